"""Run profiles: the TOML schema shared by the TUI and `qtui run`, with strict validation.

A profile describes exactly one run (model, weights, framework, precision, scenario, data and
LoadGen settings). Loading rejects unknown keys with the nearest valid one, names the file, key
and allowed values for bad values, and gives file:line:column for TOML syntax errors. Every
numeric key has a range a real run could need and no more (`BOUNDS`), an empty file is an error,
and a file that is not a regular UTF-8 text file of at most 64 KB is refused without being read;
the text's lines, key depth and nesting are bounded before the TOML parser sees it
(`check_shape`), and a leading UTF-8 byte order mark is skipped.
Every `ProfileError` carries the dotted key at fault (`.key`, None for file and syntax errors).
Saving with tomli-w and loading again gives an identical profile.

User input (`load`, `loads`, `apply_overrides`) is checked strictly; `profile_from_dict` by
default checks only what older qtui versions checked, so that results recorded before a limit
was introduced still load (nothing measured is lost).

An optional `[sweep]` table lists values to cross (models, frameworks, precisions, scenarios);
`expand_sweep` turns such a profile into one profile per combination.
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import stat
import sys
import unicodedata
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from qtui.core import frameworks as _frameworks
from qtui.core import labels as _labels
from qtui.core import model_table as _model_table
from qtui.core.files import file_kind
from qtui.core.text import is_plain

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA_VERSION = 1

MODELS = _model_table.IDS  # the model table decides
FRAMEWORKS = _frameworks.IDS  # the framework table decides
PRECISIONS = _labels.PRECISIONS  # the precision and scenario tables decide
SCENARIOS = _labels.SCENARIOS
MODES = ("performance", "accuracy")
PRESETS = ("quick", "mlperf")  # the names; their LoadGen settings: loadgen.PRESET_SETTINGS
WEIGHT_KEYWORDS = ("random", "torchvision")
DATASET_KEYWORDS = ("synthetic",)
#: `dataset.kind`: "auto" decides from `dataset.source` (see README "Your images")
DATASET_KINDS = ("auto", "synthetic", "imagenet", "images", "classes", "tensors")
#: `dataset.calibration`: what INT8 static calibrates on
CALIBRATION_SOURCES = ("data", "synthetic")
#: `input.normalize` and `input.layout`
NORMALIZATIONS = ("imagenet", "none", "custom")
LAYOUTS = ("NCHW", "NHWC")
#: `input.dtype`: an entry point's input element type (numpy names; a model file says its own)
INPUT_DTYPES = ("float32", "float16", "float64", "uint8", "int8", "int32", "int64", "bool")
#: the built-in models take a 3×224×224 NCHW float32 image
BUILTIN_INPUT = ("NCHW", 224)


class ProfileError(Exception):
    """A user mistake in a profile; the message names the file, key and what is allowed.

    `key` is the dotted key at fault ("loadgen.min_query_count"), None when the fault is not in
    one key (a missing or unreadable file, a TOML syntax error, an empty profile); `keys` is every
    key the message names (two for a conflict between keys), so a form can mark each of them.
    """

    def __init__(self, message: str, key: str | None = None, keys: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.keys: tuple[str, ...] = keys if keys is not None else ((key,) if key is not None else ())


@dataclass(frozen=True)
class WeightsSpec:
    """Where the model's weights come from: `random` (seeded), `torchvision`, or a `.pth` path."""

    source: str = "random"
    seed: int = 0


@dataclass(frozen=True)
class DatasetSpec:
    """The data: `synthetic` (seeded, structured images), or a path: a folder of your pictures,
    a class-per-folder layout, an ImageNet val folder in MLPerf layout, or a .npy/.npz file."""

    source: str = "synthetic"
    #: which of those `source` is; "auto" decides from the folder (refused when ambiguous)
    kind: str = "auto"
    #: class folders' labels: "auto" (sorted order; refused for a subset of ImageNet's WordNet
    #: ids), "sorted", or a file of `<folder> <class index>` lines
    classes: str = "auto"
    #: INT8 static calibrates on the measured data ("data") or on the synthetic set ("synthetic",
    #: marked in every table when the measured data is not synthetic)
    calibration: str = "data"
    count: int = 256
    seed: int = 0
    performance_sample_count: int = 256
    # ≤ count: calibration_indices takes every image when asked for more, so 256 picks exactly
    # what the former default 300 did on the default 256 images (same artifact cache keys).
    calibration_count: int = 256


@dataclass(frozen=True)
class InputSpec:
    """How a picture becomes the model's input (`[input]`; absent: ImageNet's preprocessing).
    `normalize`: "imagenet" (÷255, ImageNet mean/std), "none" (0-255 values as float32) or
    "custom" (`pixel × scale − mean) / std` with `mean`, `std`, `scale`)."""

    resize: int = 256
    crop: int = 224
    normalize: str = "imagenet"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    scale: float | None = None
    layout: str = "NCHW"
    #: a user model's input dimensions after the batch, for those its file leaves open
    #: (`qtui.core.model_input`); None: as the file says
    shape: tuple[int, ...] | None = None
    #: the same for a model with several inputs: "NAME=D1xD2…" for each with open dimensions
    shapes: tuple[str, ...] | None = None
    #: an entry point's input element type (every input's); None: float32
    dtype: str | None = None


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
class StudySpec:
    """How `qtui study` measures each combination; a single run ignores it."""

    repeats: int = 1
    #: wait before each run until the CPU is below this many °C; unset: 60 on a Raspberry Pi
    #: and no wait elsewhere; 0: never wait
    cooldown_below_c: float | None = None
    cooldown_max_wait_s: float = 300.0
    #: one accuracy-mode run per artifact before measuring (fidelity against FP32, or top-1 with
    #: labelled data), so `recommend` can judge quality; false: speed only
    quality: bool = True
    #: adaptive repeats: every cell gets at least this many runs, then more (up to `repeats`)
    #: until its 95 % interval is as narrow as `repeats` runs of its own would give at the
    #: run-to-run spread its table shows, or spans at most `target_width`; unset: `repeats` each
    min_repeats: int | None = None
    #: a 95 % interval this narrow (a fraction of the cell's median) always stops a cell; unset
    #: with `min_repeats`: 0.05
    target_width: float | None = None


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
    #: true: run even when `threads` is more than this machine's cores (refused otherwise: such a
    #: run measures contention, and its calls are slow to cancel); unset: false
    threads_over_cores: bool | None = None
    batch_size: int = 8
    warmup_queries: int = 16
    weights: WeightsSpec = field(default_factory=WeightsSpec)
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    #: preprocessing of pictures; None: ImageNet's (resize 256, crop 224, mean/std, NCHW)
    input: InputSpec | None = None
    loadgen: LoadGenSpec = field(default_factory=LoadGenSpec)
    #: a label for this machine in results and device-vs-device tables (unset: its CPU/board)
    device: str | None = None
    sweep: SweepSpec | None = None
    study: StudySpec | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def title(self) -> str:
        return f"{self.model} · {self.framework} · {self.precision} · {self.scenario} · {self.mode}"


_TABLES: dict[str, type] = {
    "weights": WeightsSpec,
    "dataset": DatasetSpec,
    "input": InputSpec,
    "loadgen": LoadGenSpec,
    "sweep": SweepSpec,
    "study": StudySpec,
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "model": MODELS,
    "framework": FRAMEWORKS,
    "precision": PRECISIONS,
    "scenario": SCENARIOS,
    "mode": MODES,
    "loadgen.preset": PRESETS,
    "dataset.kind": DATASET_KINDS,
    "dataset.calibration": CALIBRATION_SOURCES,
    "input.normalize": NORMALIZATIONS,
    "input.layout": LAYOUTS,
    "input.dtype": INPUT_DTYPES,
}
_SWEEP_CHOICES = {
    "models": MODELS,
    "frameworks": FRAMEWORKS,
    "precisions": PRECISIONS,
    "scenarios": SCENARIOS,
}


@dataclass(frozen=True)
class Bound:
    """The range of one numeric key: `0 ≤ value ≤ high`, or `0 < value ≤ high` without `zero`."""

    high: float
    why: str
    zero: bool = True


# Every numeric key's range: what a real run could need and no more. An unbounded value did
# harm before it was refused: `threads = 100000` ran 11 minutes in 16.5 GB ignoring Ctrl-C;
# `min_query_count = 2**63-1` took 17 GB, then LoadGen's bad_alloc and a segfault.
#
# | key                               | range          | why this bound                               |
# |-----------------------------------|----------------|----------------------------------------------|
# | threads                           | 0 – 1024       | 0 = every logical core; the largest 2-socket |
# |                                   |                | x86 servers have 768 logical CPUs (the runner|
# |                                   |                | refuses more than this machine's cores unless|
# |                                   |                | threads_over_cores = true: threads_refusal)  |
# | batch_size                        | 1 – 1024       | CPU Offline throughput stops growing far     |
# |                                   |                | below; one VGG-19 activation at 1024 is 13 GB|
# | warmup_queries                    | 0 – 10 000     | steady state comes within tens of queries    |
# | weights.seed, dataset.seed        | 0 – 2**32-1    | 32-bit seeds (calibration masks to 32 bits)  |
# | dataset.count                     | 0 – 50 000     | ImageNet val has 50 000 images; 0 = all      |
# | dataset.performance_sample_count  | 1 – 50 000     | no data set has more; every sample is held in|
# |                                   |                | memory (602 112 B each; checked at run time) |
# | dataset.calibration_count         | 1 – 50 000     | no data set has more (MLPerf calibrates on   |
# |                                   |                | 500); also ≤ count when INT8 static runs     |
# | loadgen.min/max_duration_ms       | 0 – 86 400 000 | 24 h (MLPerf's own minimum is 600 s)         |
# | loadgen.min/max_query_count       | 0 – 10 000 000 | MLPerf Offline needs 24 576 samples; LoadGen |
# |                                   |                | allocates its whole schedule before the run, |
# |                                   |                | measured 330-490 B a sample: 10 M is ≈ 5 GB  |
# | loadgen.expected_latency_ms       | > 0 – 3 600 000| 1 hour per query                             |
# | loadgen.expected_qps              | > 0 – 1 000 000| far beyond any CPU on these models           |
# | loadgen.samples_per_query         | 1 – 1024       | MLPerf MultiStream uses 8                    |
#
# What the schedule of a long min_duration_ms costs depends on the latency measured at run time:
# the runner checks it with `qtui.core.memory.check_fits` before LoadGen starts.
_SEED = Bound(2**32 - 1, "seeds are 32-bit")
_DURATION = Bound(86_400_000, "24 hours")
_QUERIES = Bound(10_000_000, "LoadGen allocates about 0.5 KB per sample before the run starts")
BOUNDS: dict[str, Bound] = {
    "threads": Bound(1024, "the largest servers have 768 logical CPUs"),
    "batch_size": Bound(1024, "CPU throughput stops growing long before", zero=False),
    "warmup_queries": Bound(10_000, "steady state comes within tens of queries"),
    "weights.seed": _SEED,
    "dataset.count": Bound(50_000, "ImageNet val has 50_000 images"),
    "dataset.seed": _SEED,
    "dataset.performance_sample_count": Bound(50_000, "ImageNet val has 50_000 images", zero=False),
    "dataset.calibration_count": Bound(50_000, "ImageNet val has 50_000 images", zero=False),
    "loadgen.min_duration_ms": _DURATION,
    "loadgen.max_duration_ms": _DURATION,
    "loadgen.min_query_count": _QUERIES,
    "loadgen.max_query_count": _QUERIES,
    "loadgen.expected_latency_ms": Bound(3_600_000, "1 hour", zero=False),
    "loadgen.expected_qps": Bound(1_000_000, "far beyond any CPU on these models", zero=False),
    "loadgen.samples_per_query": Bound(1024, "MLPerf MultiStream uses 8", zero=False),
    "input.resize": Bound(4096, "a 4096-pixel short side is past any image classifier", zero=False),
    "input.crop": Bound(4096, "a 4096-pixel short side is past any image classifier", zero=False),
    "input.scale": Bound(1e6, "1/255 or 1 map 8-bit pixels to 0-1 or 0-255", zero=False),
    "study.repeats": Bound(100, "a 95 % interval needs 3; 100 is a night of runs", zero=False),
    "study.cooldown_below_c": Bound(120, "CPUs throttle near 80-100 °C"),
    "study.cooldown_max_wait_s": Bound(3600, "1 hour between two runs"),
    "study.min_repeats": Bound(100, "at most `repeats`; 3 gives every cell an interval of its own", zero=False),
    "study.target_width": Bound(10, "0.05 stops a cell whose interval spans 5 % of its figure", zero=False),
}

#: A profile's `name` and `device` label: at most this many printable characters on one line
#: (`text.is_plain`), in profiles and in the profiles results record.
MAX_LABEL_CHARS = 64
#: A recorded name may add one `[sweep]` combination to that: "NAME/model-framework-precision-
#: scenario" (`expand_sweep`), at most 50 characters more.
MAX_NAME_CHARS = 128

#: A profile file larger than this is refused before it is read (the shipped ones are < 1 KB).
MAX_PROFILE_BYTES = 64 * 1024
#: What a profile's text may contain, checked in one pass before TOML parses it: Python's TOML
#: parser takes time quadratic in a key's depth (a 64 KB key `a.a.a…` takes 46 s on an Intel
#: Xeon Ice Lake, a 200 KB one of nested table headers 37 s), and a profile's keys are at most
#: two levels deep. Under these bounds any accepted text parses in well under a second.
MAX_PROFILE_LINES = 2000
MAX_DOTS_PER_LINE = 16  # dots outside strings and comments: key separators and decimal points
MAX_NESTING = 8  # [ and { open at once, outside strings


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def _field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(cls)}


def _show(value: Any) -> str:
    """A value for a one-line message: repr, huge integers by their size, long strings cut."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"a {'negative ' if value < 0 else ''}{digits}-digit integer"
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:60]) + "…"
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _key(dotted: str) -> str:
    """A key as messages quote it: 'loadgen.min_query_count'; escaped when it has control or
    unprintable characters, so a message stays one line."""
    return f"'{dotted}'" if dotted.isprintable() else repr(dotted)


def _number(value: float) -> str:
    """A bound as TOML would accept it: 10_000_000, 3_600_000, 0."""
    if float(value).is_integer():
        n = int(value)
        return f"{n:_}" if n >= 10_000 else str(n)
    return repr(value)


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

    def bad() -> ProfileError:
        return ProfileError(f"{_where(source)}key '{key}': {_show(value)} is not {_describe_type(base)}", key)

    if base == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        try:
            return float(value)
        except OverflowError:  # an integer past 1e308
            raise ProfileError(f"{_where(source)}key '{key}': {_show(value)} is too large", key) from None
    if base == "str":
        if not isinstance(value, str):
            raise bad()
        return value
    if base.startswith("tuple[float"):
        if isinstance(value, bool) or isinstance(value, (int, float)):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise bad()
        return tuple(float(v) for v in value)
    if base.startswith("tuple[int"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise bad()
        return tuple(value)
    if base.startswith("tuple[str"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad()
        return tuple(value)
    raise AssertionError(f"unhandled field type {type_name}")  # pragma: no cover


def _describe_type(base: str) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "str": "a string",
        "bool": "true or false",
        "tuple[float, ...]": "a number or a list of numbers",
        "tuple[int, ...]": "a list of integers",
    }.get(base, "a list of strings")


def _build(cls: type, data: dict[str, Any], prefix: str, source: str | None) -> Any:
    types = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in types:
            odd = non_ascii_note(key)
            if odd:
                raise ProfileError(
                    f"{_where(source)}unknown key {_key(dotted)}: it holds a non-ASCII character, "
                    f"{odd}{_suggest(key, list(types))}",
                    dotted,
                )
            raise ProfileError(f"{_where(source)}unknown key {_key(dotted)}{_suggest(key, list(types))}", dotted)
        if key in _TABLES and cls is RunProfile:
            if not isinstance(value, dict):
                raise ProfileError(f"{_where(source)}key '{dotted}' must be a table ([{key}])", dotted)
            kwargs[key] = _build(_TABLES[key], value, f"{dotted}.", source)
        else:
            kwargs[key] = _convert(value, types[key], dotted, source)
    return cls(**kwargs)


def non_ascii_note(text: str) -> str | None:
    """For an identifier that should be ASCII: its first non-ASCII character by code point and
    Unicode name ("U+0455 CYRILLIC SMALL LETTER DZE at position 6"), never the character itself
    (it may look like a Latin letter, or reorder the line); None for ASCII text."""
    for i, ch in enumerate(text):
        if ord(ch) > 127:
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')} at position {i + 1}"
    return None


def _is_model_file(value: object) -> bool:
    """A path to the user's own model file (ONNX, TFLite) or a PyTorch entry point
    (`package.module:factory`) rather than a built-in name."""
    from qtui.core.model_source_entry import is_entry

    return isinstance(value, str) and (value.lower().endswith((".onnx", ".tflite")) or is_entry(value)) and is_plain(value)


def _check_choice(key: str, value: str, allowed: tuple[str, ...], source: str | None) -> None:
    if value not in allowed:
        close = [a for a in allowed if sorted(a.lower()) == sorted(value.lower())]
        close = close or difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        files = ", the path of an .onnx or .tflite file or a package.module:factory" if key in ("model", "sweep.models") else ""
        odd = non_ascii_note(value)
        if odd:  # a Cyrillic 'ѕ' in int8_static looks right and is not
            raise ProfileError(
                f"{_where(source)}key '{key}': '{value.encode('ascii', 'backslashreplace').decode()[:60]}' "
                f"holds a non-ASCII character, {odd}; allowed: {', '.join(allowed)}{hint}",
                key,
            )
        raise ProfileError(
            f"{_where(source)}key '{key}': {_show(value)} is not one of {', '.join(allowed)}{files}{hint}",
            key,
        )


def _positive(key: str, value: float | None, source: str | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        need = "≥ 0" if allow_zero else "> 0"
        raise ProfileError(f"{_where(source)}key '{key}': {_show(value)} must be {need}", key)


def _check_bound(key: str, value: float | None, source: str | None) -> None:
    if value is None:
        return
    b = BOUNDS[key]
    if isinstance(value, float) and not math.isfinite(value):
        raise ProfileError(f"{_where(source)}key '{key}': {value!r} is not a finite number", key)
    _positive(key, value, source, allow_zero=b.zero)
    if value > b.high:
        raise ProfileError(
            f"{_where(source)}key '{key}': {_show(value)} is too large "
            f"(at most {_number(b.high)}: {b.why})",
            key,
        )


def _get(profile: RunProfile, dotted: str) -> Any:
    obj: Any = profile
    for part in dotted.split("."):
        if obj is None:  # an optional table that is absent ([study])
            return None
        obj = getattr(obj, part)
    return obj


#: Linux's PATH_MAX and NAME_MAX: a longer weights or dataset path can never be opened.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def _fits_path(path: str) -> bool:
    raw = path.encode("utf-8", "surrogateescape")
    return len(raw) <= MAX_PATH_BYTES and b"\0" not in raw and all(len(part) <= MAX_NAME_BYTES for part in raw.split(b"/"))


def calibrates(profile: RunProfile) -> bool:
    """Whether the profile (or one run of its sweep) quantizes INT8 static, which calibrates."""
    sweep = profile.sweep.precisions if profile.sweep is not None else ()
    return profile.precision == "int8_static" or "int8_static" in sweep


def validate(profile: RunProfile, source: str | None = None, *, strict: bool = True) -> RunProfile:
    """Check values against the allowed sets and ranges; returns the profile unchanged.

    `strict=False` checks only types, allowed values and signs (what results recorded by older
    versions were checked against); `strict=True` adds finite numbers, every key's upper bound
    (`BOUNDS`), calibration_count ≤ count for INT8 static, and no repeated sweep values.
    """
    if profile.schema_version != SCHEMA_VERSION:
        raise ProfileError(
            f"{_where(source)}key 'schema_version': {_show(profile.schema_version)} is not supported "
            f"(this qtui reads version {SCHEMA_VERSION})",
            "schema_version",
        )
    for key, allowed in _CHOICES.items():
        value = _get(profile, key)
        if value is None:  # an optional table that is absent ([input])
            continue
        if key == "model" and _is_model_file(value):
            continue  # the user's model file: checked when it is used (model_source)
        _check_choice(key, value, allowed, source)
    if not profile.name.strip():
        raise ProfileError(f"{_where(source)}key 'name' must not be empty", "name")
    if (
        len(profile.name.split("/", 1)[0]) > MAX_LABEL_CHARS
        or len(profile.name) > MAX_NAME_CHARS
        or not is_plain(profile.name)
    ):
        raise ProfileError(
            f"{_where(source)}key 'name': a name of at most {MAX_LABEL_CHARS} printable characters "
            f"on one line",
            "name",
        )
    if profile.device is not None:
        problem = check_device(profile.device, "key 'device'")
        if problem:
            raise ProfileError(f"{_where(source)}{problem}", "device")
    for key, bound in BOUNDS.items():
        value = _get(profile, key)
        if strict:
            _check_bound(key, value, source)
        else:
            _positive(key, value, source, allow_zero=bound.zero)
    if profile.dataset.source == "synthetic" and profile.dataset.count == 0:
        raise ProfileError(
            f"{_where(source)}key 'dataset.count': a synthetic set needs a count > 0", "dataset.count"
        )
    if not profile.weights.source.strip():
        raise ProfileError(
            f"{_where(source)}key 'weights.source' must be 'random', 'torchvision' or a path",
            "weights.source",
        )
    if strict:
        for key, keyword in (("weights.source", WEIGHT_KEYWORDS), ("dataset.source", DATASET_KEYWORDS)):
            path = _get(profile, key)
            if path not in keyword and not _fits_path(path):
                raise ProfileError(
                    f"{_where(source)}key '{key}': a path of at most {MAX_PATH_BYTES} bytes, each name at most "
                    f"{MAX_NAME_BYTES}",
                    key,
                )
    if profile.sweep is not None:
        for key, allowed in _SWEEP_CHOICES.items():
            values = getattr(profile.sweep, key)
            for value in values:
                if key == "models" and _is_model_file(value):
                    continue
                _check_choice(f"sweep.{key}", value, allowed, source)
            if strict:
                twice = sorted({v for v in values if values.count(v) > 1})
                if twice:
                    raise ProfileError(
                        f"{_where(source)}key 'sweep.{key}': {_show(twice[0])} is listed more than once",
                        f"sweep.{key}",
                    )
    _check_data(profile, source)
    ds = profile.dataset
    if strict and calibrates(profile) and 0 < ds.count < ds.calibration_count:
        raise ProfileError(
            f"{_where(source)}key 'dataset.calibration_count': {ds.calibration_count} is more than "
            f"'dataset.count' ({ds.count}), so INT8 static would calibrate on only {ds.count} images; "
            f"lower the calibration count or raise the count",
            "dataset.calibration_count",
            ("dataset.calibration_count", "dataset.count"),
        )
    return profile


def check_device(label: str, what: str) -> str | None:
    """The one check of a device label, for the profile's `device` key and the `--device` option
    (`what` names which): None when `label` is 1-64 printable characters on one line, else the
    message. A label that passes is stored and read back unchanged, so a study resumes by it
    (one with a control character came back cleaned from the result file and never matched)."""
    if not label.strip() or len(label) > MAX_LABEL_CHARS or not is_plain(label):
        return f"{what}: a label of at most {MAX_LABEL_CHARS} printable characters on one line"
    return None


def threads_refusal(profile: RunProfile, cores: int | None) -> str | None:
    """Why `profile` may not run on a machine with `cores` logical CPUs, or None: `threads` above
    the cores needs `threads_over_cores = true` (a profile is checked where it runs; the same
    file may suit a bigger machine). Threads far above the cores measured contention, not the
    runtime, and made a run slow to cancel (each call in flight lasting seconds)."""
    if not cores or profile.threads <= cores or profile.threads_over_cores:
        return None
    return (
        f"key 'threads': {profile.threads} is more than the {cores} cores here; set "
        f"threads = 0 (every core) or fewer, or threads_over_cores = true "
        f"(--set threads_over_cores=true) to run it anyway"
    )


def check_sources(profile: RunProfile, source: str | None = None) -> RunProfile:
    """Before any work: the data and weights the profile names are there. A data set must be a
    folder or a file (what it holds is checked when it opens); a weights
    path must be a non-empty regular file. Raises `ProfileError` naming the key; returns the
    profile unchanged. Not part of `validate`: a result or a saved profile from another machine
    still loads where its paths do not exist."""
    data = profile.dataset.source
    if data.strip() != "synthetic":
        # what the folder or file holds (val_map.txt, pictures, class folders, tensors) is checked
        # when it opens (qtui.core.data), still before any work
        where = Path(data).expanduser()
        if not where.is_dir() and not where.is_file():
            raise ProfileError(
                f"{_where(source)}key 'dataset.source': {_show(data)} is neither a folder nor a file; "
                "give 'synthetic', a folder of pictures (an ImageNet validation folder with "
                "val_map.txt, class folders, or plain pictures) or a .npy/.npz file",
                "dataset.source",
            )
    weights = profile.weights.source
    if weights not in ("random", "torchvision"):
        path = Path(weights).expanduser()
        try:
            problem = (
                "does not exist" if not path.exists()
                else "is not a file" if not path.is_file()
                else "is empty" if path.stat().st_size == 0
                else ""
            )
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        if problem:
            raise ProfileError(
                f"{_where(source)}key 'weights.source': {_show(weights)} {problem}; give 'random', "
                "'torchvision' or a .pth state dict file",
                "weights.source",
            )
    return profile


def _check_data(profile: RunProfile, source: str | None) -> None:
    """`dataset.kind`/`classes` against `dataset.source`, and the `[input]` table: custom
    normalisation's values, crop within resize, what the built-in models take."""
    ds, where = profile.dataset, _where(source)
    if ds.kind != "auto" and (ds.kind == "synthetic") != (ds.source == "synthetic"):
        raise ProfileError(
            f"{where}key 'dataset.kind': {_show(ds.kind)} "
            + ("goes with dataset.source = 'synthetic'" if ds.kind == "synthetic" else "needs a folder or file in 'dataset.source'"),
            "dataset.kind", ("dataset.kind", "dataset.source"),
        )
    if not ds.classes.strip():
        raise ProfileError(
            f"{where}key 'dataset.classes' must be 'auto', 'sorted' or a classes file", "dataset.classes"
        )
    spec = profile.input
    if spec is None:
        return
    custom = ("mean", "std", "scale")
    if spec.normalize != "custom":
        given = [k for k in custom if getattr(spec, k) is not None]
        if given:
            raise ProfileError(
                f"{where}key 'input.{given[0]}' is used only with input.normalize = 'custom' "
                f"(it is {_show(spec.normalize)})",
                f"input.{given[0]}", (f"input.{given[0]}", "input.normalize"),
            )
    for key in ("mean", "std"):
        values = getattr(spec, key)
        if values is None:
            continue
        if len(values) not in (1, 3) or not all(math.isfinite(v) for v in values):
            raise ProfileError(
                f"{where}key 'input.{key}': {_show(list(values))} must be 1 or 3 finite numbers (R, G, B)",
                f"input.{key}",
            )
        if key == "std" and any(v <= 0 for v in values):
            raise ProfileError(f"{where}key 'input.std': {_show(list(values))} must be > 0", "input.std")
    if spec.shape is not None and (not spec.shape or not all(0 < d <= 1_000_000 for d in spec.shape)):
        raise ProfileError(
            f"{where}key 'input.shape': {_show(list(spec.shape))} must list the input's dimensions after "
            "the batch, each 1 to 1000000", "input.shape",
        )
    if spec.dtype is not None:
        from qtui.core.model_source import source_kind

        if source_kind(profile.model) != "entry":
            raise ProfileError(
                f"{where}key 'input.dtype' is for a PyTorch entry point's inputs; model {_show(profile.model)} "
                "says its own input types", "input.dtype",
            )
    if spec.crop > spec.resize:
        raise ProfileError(
            f"{where}key 'input.crop': {spec.crop} is larger than 'input.resize' ({spec.resize}); "
            "the centre crop is taken from the resized picture",
            "input.crop", ("input.crop", "input.resize"),
        )
    layout, size = BUILTIN_INPUT
    if profile.model in MODELS:
        if spec.shape is not None:
            raise ProfileError(
                f"{where}key 'input.shape' is for your own model's open dimensions; the built-in model "
                f"{profile.model} takes {size}×{size} {layout} images", "input.shape",
            )
        for key, value, want in (("layout", spec.layout, layout), ("crop", spec.crop, size)):
            if value != want:
                raise ProfileError(
                    f"{where}key 'input.{key}': {_show(value)}, but the built-in model {profile.model} "
                    f"takes {size}×{size} {layout} images (input.{key} = {_show(want)})",
                    f"input.{key}",
                )


def calibration_warning(profile: RunProfile, images: int) -> str | None:
    """For the runner, once the data set is open: a warning when INT8 static calibration asks for
    more images than the data set has (a folder with `dataset.count = 0` is counted only then),
    None when nothing is capped or the run does not calibrate."""
    want = profile.dataset.calibration_count
    if profile.precision != "int8_static" or want <= images:
        return None
    return (
        f"dataset.calibration_count is {want} but the data set has {images} images: "
        f"INT8 static calibrates on all {images}"
    )


def profile_from_dict(data: dict[str, Any], source: str | None = None, *, strict: bool = False) -> RunProfile:
    """Build and validate a profile from parsed TOML (or JSON) data.

    Not strict by default: this reads the profiles that results recorded (see `validate`). User
    input goes through `load`, `loads` or `apply_overrides`, which are strict."""
    if not isinstance(data, dict):
        raise ProfileError(f"{_where(source)}a profile must be a table of keys, not {type(data).__name__}")
    return validate(_build(RunProfile, data, "", source), source, strict=strict)


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
    lines = text.split("\n")
    if isinstance(lineno, int) and isinstance(colno, int) and 0 < lineno <= len(lines):
        at = lines[lineno - 1][colno - 1 : colno]
        if at and ord(at) > 127:  # a look-alike letter in a key: say which, not just "expected '='"
            msg += f" (U+{ord(at):04X} {unicodedata.name(at, 'unnamed character')} is not ASCII: keys are ASCII)"
    return f"{lineno}:{colno}: TOML syntax error: {msg}"


def check_shape(text: str, where: str, key: str | None = None) -> None:
    """Refuse, in one linear pass, text a profile never holds and the TOML parser would take
    seconds to minutes on: more than `MAX_PROFILE_BYTES`, `MAX_PROFILE_LINES` lines, a line with
    more than `MAX_DOTS_PER_LINE` dots outside strings and comments (a key nested that deep), or
    brackets and braces nested more than `MAX_NESTING` deep. Strings (one- and multi-line) and
    comments are skipped, so a path or a comment may hold any number of dots."""
    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(f"{where}: {len(text):_} characters is too large for a profile (at most 64 KB)", key)
    if text.count("\n") >= MAX_PROFILE_LINES:
        raise ProfileError(f"{where}: more than {MAX_PROFILE_LINES:_} lines is too long for a profile", key)
    i, n, line, dots, depth = 0, len(text), 1, 0, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line, dots = line + 1, 0
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    if len(quote) == 1:  # an unterminated string: the parser reports it
                        break
                    line += 1
                j += 1
            i = j if j < n and text[j] == "\n" else j + len(quote)
            continue
        elif c == ".":
            dots += 1
            if dots > MAX_DOTS_PER_LINE:
                raise ProfileError(
                    f"{where}:{line}: more than {MAX_DOTS_PER_LINE} dots outside strings on one line "
                    f"(a profile's keys are at most two levels deep)",
                    key,
                )
        elif c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise ProfileError(
                    f"{where}:{line}: TOML arrays or tables nested too deeply (more than {MAX_NESTING} levels)", key
                )
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1


def _parse_toml(text: str, where: str, key: str | None = None) -> dict[str, Any]:
    """tomllib.loads with every failure as a ProfileError: syntax errors with line:column, and the
    parser's own limits (recursion on deeply nested arrays, integers past 4300 digits). The text's
    shape is checked first (`check_shape`) so that parsing stays fast."""
    check_shape(text, where, key)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}:{_toml_error_position(exc, text)}", key) from None
    except RecursionError:
        raise ProfileError(f"{where}: TOML arrays or tables nested too deeply", key) from None
    except ValueError:  # int("1" * 5000): Python's limit on integer digits
        raise ProfileError(f"{where}: a number has too many digits", key) from None


#: The keys that say what a profile runs; a profile that sets none of them runs the defaults.
SUBSTANCE = ("model", "framework", "precision", "scenario")


def defaults_note(profile: RunProfile, data: dict[str, Any], source: str | None = None) -> str | None:
    """A warning for a profile that names nothing it runs (no model, framework, precision or
    scenario, at the top or in [sweep]: only `[loadgen]` or `[study]`, say), which would
    otherwise run the defaults silently; None when it names one of them."""
    sweep: dict[str, Any] = data["sweep"] if isinstance(data.get("sweep"), dict) else {}
    if any(k in data for k in SUBSTANCE) or any(f"{k}s" in sweep for k in SUBSTANCE):
        return None
    return (
        f"{_where(source)}this profile sets no model, framework, precision or scenario: the defaults "
        f"are used ({profile.model} · {profile.framework} · {profile.precision} · {profile.scenario})"
    )


def _loads_data(text: str, source: str | None) -> tuple[RunProfile, dict[str, Any]]:
    where = source or "<profile>"
    # A UTF-8 byte order mark (some Windows editors write one) is not TOML: skip it.
    data = _parse_toml(text.removeprefix("\ufeff"), where)
    if not data:
        raise ProfileError(
            f"{where}: empty profile (it sets no keys; a bare name such as `quick` runs a "
            f"shipped profile)"
        )
    return profile_from_dict(data, source, strict=True), data


def loads(text: str, source: str | None = None) -> RunProfile:
    """Parse and strictly validate a profile from TOML text; an empty profile is an error."""
    return _loads_data(text, source)[0]


def load_with_note(path: str | Path) -> tuple[RunProfile, str | None]:
    """`load`, with `defaults_note`'s warning when the file names nothing it runs."""
    p = Path(path)
    profile, data = _loads_data(_read_profile_text(p), str(p))
    return profile, defaults_note(profile, data, str(p))


def _read_profile_text(p: Path) -> str:
    """The file's text, refusing before reading anything but a regular UTF-8 file ≤ 64 KB (a FIFO
    would block the open, a device or a huge file would never end)."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ProfileError(f"{p}: no such profile file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ProfileError(f"{p}: cannot read profile ({getattr(exc, 'strerror', None) or exc})") from None

    def refuse(mode: int, size: int) -> None:
        if not stat.S_ISREG(mode):
            raise ProfileError(f"{p}: is {file_kind(mode)}, not a profile file")
        if size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{p}: {size:_} bytes is too large for a profile (at most 64 KB)")

    refuse(st.st_mode, st.st_size)
    try:
        # O_NONBLOCK: should the path turn into a FIFO after the check, open does not wait
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read profile ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        refuse(st.st_mode, st.st_size)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read profile ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(f"{p}: too large for a profile (at most 64 KB)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProfileError(
            f"{p}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def load(path: str | Path) -> RunProfile:
    """Read and strictly validate a profile file."""
    p = Path(path)
    return loads(_read_profile_text(p), str(p))


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


def _parse_override_value(raw: str, key: str, source: str) -> Any:
    """A TOML value, or the raw text as a string when it is not one (`precision=fp16`)."""
    try:
        data = _parse_toml(f"v = {raw}", source, key)
    except ProfileError as exc:
        if "TOML syntax error" in str(exc):
            return raw
        raise ProfileError(f"{source}: key {_key(key)}: {str(exc).removeprefix(f'{source}: ')}", key) from None
    return data["v"]


def apply_overrides(profile: RunProfile, assignments: list[str], source: str = "--set") -> RunProfile:
    """Apply `key=value` strings (dotted keys for tables, values in TOML syntax or bare words);
    the result is validated strictly."""
    data = to_dict(profile)
    for item in assignments:
        if "=" not in item:
            raise ProfileError(f"{source}: {_show(item)} is not key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        parts = key.split(".")
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ProfileError(f"{source}: {_key(key)} is not a table key", key)
        target[parts[-1]] = _parse_override_value(raw, key, source)
    return profile_from_dict(data, source, strict=True)


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
