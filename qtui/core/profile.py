"""Run profiles: the TOML schema shared by the TUI and `qtui run`, with strict validation.

A profile describes exactly one run (model, weights, framework, precision, scenario, data and
LoadGen settings). Loading rejects unknown keys with the nearest valid one, names the file, key
and allowed values for bad values, and gives file:line:column for TOML syntax errors. Saving with
tomli-w and loading again gives an identical profile.

An optional `[sweep]` table lists values to cross (models, frameworks, precisions, scenarios);
`expand_sweep` turns such a profile into one profile per combination.
"""

from __future__ import annotations

import difflib
import itertools
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA_VERSION = 1

MODELS = ("mobilenet_v2", "vgg19", "densenet121")
FRAMEWORKS = ("onnxruntime", "openvino", "tflite", "torch")
PRECISIONS = ("fp32", "fp16", "int8_dynamic", "int8_static")
SCENARIOS = ("SingleStream", "MultiStream", "Offline")
MODES = ("performance", "accuracy")
PRESETS = ("quick", "mlperf")
WEIGHT_KEYWORDS = ("random", "torchvision")
DATASET_KEYWORDS = ("synthetic",)


class ProfileError(Exception):
    """A user mistake in a profile; the message names the file, key and what is allowed."""


@dataclass(frozen=True)
class WeightsSpec:
    """Where the model's weights come from: `random` (seeded), `torchvision`, or a `.pth` path."""

    source: str = "random"
    seed: int = 0


@dataclass(frozen=True)
class DatasetSpec:
    """The images: `synthetic` (seeded, structured) or an ImageNet val folder in MLPerf layout."""

    source: str = "synthetic"
    count: int = 256
    seed: int = 0
    performance_sample_count: int = 256
    calibration_count: int = 300


@dataclass(frozen=True)
class LoadGenSpec:
    """LoadGen settings: a preset plus explicit overrides (None = take the preset's value)."""

    preset: str = "quick"
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    min_query_count: int | None = None
    max_query_count: int | None = None
    expected_latency_ms: float | None = None
    expected_qps: float | None = None
    samples_per_query: int | None = None


@dataclass(frozen=True)
class SweepSpec:
    """Values to cross; an empty list means "the profile's own value"."""

    models: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunProfile:
    """One benchmark run, exactly as saved in TOML."""

    name: str = "quick"
    model: str = "mobilenet_v2"
    framework: str = "onnxruntime"
    precision: str = "fp32"
    scenario: str = "SingleStream"
    mode: str = "performance"
    threads: int = 0
    batch_size: int = 8
    warmup_queries: int = 16
    weights: WeightsSpec = field(default_factory=WeightsSpec)
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    loadgen: LoadGenSpec = field(default_factory=LoadGenSpec)
    sweep: SweepSpec | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def title(self) -> str:
        return f"{self.model} · {self.framework} · {self.precision} · {self.scenario} · {self.mode}"


_TABLES: dict[str, type] = {
    "weights": WeightsSpec,
    "dataset": DatasetSpec,
    "loadgen": LoadGenSpec,
    "sweep": SweepSpec,
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "model": MODELS,
    "framework": FRAMEWORKS,
    "precision": PRECISIONS,
    "scenario": SCENARIOS,
    "mode": MODES,
    "loadgen.preset": PRESETS,
}
_SWEEP_CHOICES = {
    "models": MODELS,
    "frameworks": FRAMEWORKS,
    "precisions": PRECISIONS,
    "scenarios": SCENARIOS,
}


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def _field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(cls)}


def _suggest(key: str, allowed: list[str] | tuple[str, ...]) -> str:
    # Transposed letters ("modle") are the commonest typo: same letters wins over difflib's ratio.
    close = [a for a in allowed if sorted(a.lower()) == sorted(key.lower())]
    close = close or difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.5)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (allowed: {', '.join(allowed)})"


def _convert(value: Any, type_name: str, key: str, source: str | None) -> Any:
    """Check and convert one scalar or list value against the dataclass field's type."""
    optional = "None" in type_name
    base = type_name.replace(" | None", "")
    if value is None and optional:
        return None
    bad = ProfileError(
        f"{_where(source)}key '{key}': {value!r} is not {_describe_type(base)}"
    )
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if base == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if base.startswith("tuple[str"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad
        return tuple(value)
    raise AssertionError(f"unhandled field type {type_name}")  # pragma: no cover


def _describe_type(base: str) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "str": "a string",
    }.get(base, "a list of strings")


def _build(cls: type, data: dict[str, Any], prefix: str, source: str | None) -> Any:
    types = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in types:
            raise ProfileError(
                f"{_where(source)}unknown key '{dotted}'{_suggest(key, list(types))}"
            )
        if key in _TABLES and cls is RunProfile:
            if not isinstance(value, dict):
                raise ProfileError(f"{_where(source)}key '{dotted}' must be a table ([{key}])")
            kwargs[key] = _build(_TABLES[key], value, f"{dotted}.", source)
        else:
            kwargs[key] = _convert(value, types[key], dotted, source)
    return cls(**kwargs)


def _check_choice(key: str, value: str, allowed: tuple[str, ...], source: str | None) -> None:
    if value not in allowed:
        raise ProfileError(
            f"{_where(source)}key '{key}': '{value}' is not allowed{_suggest(value, allowed)}"
            f"; allowed values: {', '.join(allowed)}"
        )


def _positive(key: str, value: float | None, source: str | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        need = "≥ 0" if allow_zero else "> 0"
        raise ProfileError(f"{_where(source)}key '{key}': {value!r} must be {need}")


def validate(profile: RunProfile, source: str | None = None) -> RunProfile:
    """Check values against the allowed sets and ranges; returns the profile unchanged."""
    if profile.schema_version != SCHEMA_VERSION:
        raise ProfileError(
            f"{_where(source)}key 'schema_version': {profile.schema_version} is not supported "
            f"(this qtui reads version {SCHEMA_VERSION})"
        )
    for key, allowed in _CHOICES.items():
        obj: Any = profile
        for part in key.split("."):
            obj = getattr(obj, part)
        _check_choice(key, obj, allowed, source)
    if not profile.name.strip():
        raise ProfileError(f"{_where(source)}key 'name' must not be empty")
    _positive("threads", profile.threads, source, allow_zero=True)
    _positive("batch_size", profile.batch_size, source)
    _positive("warmup_queries", profile.warmup_queries, source, allow_zero=True)
    _positive("weights.seed", profile.weights.seed, source, allow_zero=True)
    _positive("dataset.count", profile.dataset.count, source, allow_zero=True)
    _positive("dataset.seed", profile.dataset.seed, source, allow_zero=True)
    _positive("dataset.performance_sample_count", profile.dataset.performance_sample_count, source)
    _positive("dataset.calibration_count", profile.dataset.calibration_count, source)
    if profile.dataset.source == "synthetic" and profile.dataset.count == 0:
        raise ProfileError(
            f"{_where(source)}key 'dataset.count': a synthetic set needs a count > 0"
        )
    if not profile.weights.source.strip():
        raise ProfileError(
            f"{_where(source)}key 'weights.source' must be 'random', 'torchvision' or a path"
        )
    lg = profile.loadgen
    for name in ("min_duration_ms", "max_duration_ms", "min_query_count", "max_query_count"):
        _positive(f"loadgen.{name}", getattr(lg, name), source, allow_zero=True)
    for name in ("expected_latency_ms", "expected_qps", "samples_per_query"):
        _positive(f"loadgen.{name}", getattr(lg, name), source)
    if profile.sweep is not None:
        for key, allowed in _SWEEP_CHOICES.items():
            for value in getattr(profile.sweep, key):
                _check_choice(f"sweep.{key}", value, allowed, source)
    return profile


def profile_from_dict(data: dict[str, Any], source: str | None = None) -> RunProfile:
    """Build and validate a profile from parsed TOML (or JSON) data."""
    return validate(_build(RunProfile, data, "", source), source)


def _toml_error_position(exc: tomllib.TOMLDecodeError, text: str) -> str:
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    msg = getattr(exc, "msg", str(exc))
    if lineno is None:  # Python < 3.14 puts the position only in the message
        import re

        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        if m:
            lineno, colno = int(m.group(1)), int(m.group(2))
            msg = str(exc)[: m.start()].strip()
        elif "end of document" in str(exc):
            lines = text.splitlines() or [""]
            lineno, colno = len(lines), len(lines[-1]) + 1
            msg = str(exc).split("(at")[0].strip()
    return f"{lineno}:{colno}: TOML syntax error: {msg}"


def loads(text: str, source: str | None = None) -> RunProfile:
    """Parse a profile from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source or '<profile>'}:{_toml_error_position(exc, text)}") from None
    return profile_from_dict(data, source)


def load(path: str | Path) -> RunProfile:
    """Read and validate a profile file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{p}: no such profile file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{p}: cannot read profile ({exc})") from None
    return loads(text, str(p))


def to_dict(profile: RunProfile) -> dict[str, Any]:
    """Plain data for TOML/JSON: None values dropped (TOML has no null), tuples as lists."""

    def plain(obj: Any) -> Any:
        out: dict[str, Any] = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            if f.name in _TABLES:
                out[f.name] = plain(value)
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out

    data = plain(profile)
    # schema_version first, tables last, for a readable file
    ordered = {"schema_version": data.pop("schema_version")}
    ordered.update({k: v for k, v in data.items() if not isinstance(v, dict)})
    ordered.update({k: v for k, v in data.items() if isinstance(v, dict)})
    return ordered


def dumps(profile: RunProfile) -> str:
    return tomli_w.dumps(to_dict(profile))


def save(profile: RunProfile, path: str | Path, overwrite: bool = False) -> Path:
    """Write a profile as TOML; refuses to replace an existing file unless `overwrite`."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} already exists")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(dumps(profile), encoding="utf-8")
    tmp.replace(p)
    return p


def _parse_override_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(profile: RunProfile, assignments: list[str], source: str = "--set") -> RunProfile:
    """Apply `key=value` strings (dotted keys for tables, values in TOML syntax or bare words)."""
    data = to_dict(profile)
    for item in assignments:
        if "=" not in item:
            raise ProfileError(f"{source}: '{item}' is not key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        parts = key.split(".")
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ProfileError(f"{source}: '{key}' is not a table key")
        target[parts[-1]] = _parse_override_value(raw)
    return profile_from_dict(data, source)


def expand_sweep(profile: RunProfile) -> list[RunProfile]:
    """One profile per combination of the `[sweep]` table (the profile itself if none)."""
    if profile.sweep is None:
        return [profile]
    sw = profile.sweep
    combos = itertools.product(
        sw.models or (profile.model,),
        sw.frameworks or (profile.framework,),
        sw.precisions or (profile.precision,),
        sw.scenarios or (profile.scenario,),
    )
    return [
        replace(
            profile,
            name=f"{profile.name}/{m}-{f}-{p}-{s}",
            model=m,
            framework=f,
            precision=p,
            scenario=s,
            sweep=None,
        )
        for m, f, p, s in combos
    ]
