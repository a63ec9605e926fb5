"""Profiles under hostile input: random TOML documents, random tables of known keys with random
values and random `--set` assignments either load into a profile whose every field is within its
documented range, or raise ProfileError (with the key it names) — never another exception; a
valid profile survives dumps/loads exactly; files that are not regular UTF-8 text of at most
64 KB (a FIFO, a directory, a device, a huge or empty file) are refused without hanging."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.core import profile as prof
from qtui.core.profile import (
    FRAMEWORKS,
    MODELS,
    MODES,
    PRECISIONS,
    PRESETS,
    SCENARIOS,
    DatasetSpec,
    LoadGenSpec,
    ProfileError,
    RunProfile,
    SweepSpec,
    WeightsSpec,
)
from qtui.core.text import is_plain

PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# The documented ranges, restated here (not read from the module): (highest, zero allowed).
RANGES: dict[str, tuple[float, bool]] = {
    "threads": (1024, True),
    "batch_size": (1024, False),
    "warmup_queries": (10_000, True),
    "weights.seed": (2**32 - 1, True),
    "dataset.count": (50_000, True),
    "dataset.seed": (2**32 - 1, True),
    "dataset.performance_sample_count": (50_000, False),
    "dataset.calibration_count": (50_000, False),
    "loadgen.min_duration_ms": (86_400_000, True),
    "loadgen.max_duration_ms": (86_400_000, True),
    "loadgen.min_query_count": (10_000_000, True),
    "loadgen.max_query_count": (10_000_000, True),
    "loadgen.expected_latency_ms": (3_600_000, False),
    "loadgen.expected_qps": (1_000_000, False),
    "loadgen.samples_per_query": (1024, False),
}
FLOAT_KEYS = {"loadgen.expected_latency_ms", "loadgen.expected_qps"}
CHOICES = {
    "model": MODELS, "framework": FRAMEWORKS, "precision": PRECISIONS, "scenario": SCENARIOS,
    "mode": MODES, "loadgen.preset": PRESETS,
}
SWEEP = {"models": MODELS, "frameworks": FRAMEWORKS, "precisions": PRECISIONS, "scenarios": SCENARIOS}
TOP_KEYS = ["schema_version", "name", "model", "framework", "precision", "scenario", "mode",
            "threads", "batch_size", "warmup_queries"]
TABLE_KEYS = {
    "weights": ["source", "seed"],
    "dataset": ["source", "count", "seed", "performance_sample_count", "calibration_count"],
    "loadgen": ["preset", "min_duration_ms", "max_duration_ms", "min_query_count", "max_query_count",
                "expected_latency_ms", "expected_qps", "samples_per_query"],
    "sweep": list(SWEEP),
}
ALL_DOTTED = TOP_KEYS + [f"{t}.{k}" for t, keys in TABLE_KEYS.items() for k in keys]


def _get(p: RunProfile, dotted: str) -> Any:
    obj: Any = p
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def assert_within_bounds(p: RunProfile) -> None:
    """Every field of a loaded profile is of its type and inside its documented range."""
    assert isinstance(p, RunProfile)
    assert p.schema_version == 1 and p.name.strip()
    for key, allowed in CHOICES.items():
        assert _get(p, key) in allowed, key
    for key, (high, zero) in RANGES.items():
        value = _get(p, key)
        if value is None:
            assert key.startswith("loadgen."), key
            continue
        assert not isinstance(value, bool), key
        if key in FLOAT_KEYS:
            assert isinstance(value, float) and math.isfinite(value), key
        else:
            assert isinstance(value, int), key
        assert (value >= 0 if zero else value > 0) and value <= high, (key, value)
    assert p.weights.source.strip()
    assert p.dataset.source != "synthetic" or p.dataset.count > 0
    if p.sweep is not None:
        for key, allowed in SWEEP.items():
            values = getattr(p.sweep, key)
            assert all(v in allowed for v in values) and len(set(values)) == len(values), key
    int8 = p.precision == "int8_static" or (p.sweep is not None and "int8_static" in p.sweep.precisions)
    if int8 and p.dataset.count > 0:
        assert p.dataset.calibration_count <= p.dataset.count


def assert_profile_error(err: ProfileError) -> None:
    msg = str(err)
    assert msg and "\n" not in msg and "Traceback" not in msg
    assert err.key is None or isinstance(err.key, str)
    if err.key is not None:
        assert (f"'{err.key}'" if err.key.isprintable() else repr(err.key)) in msg, (err.key, msg)
        assert err.key in err.keys


# -- strategies -----------------------------------------------------------------------------------

_edges = sorted({v for high, _ in RANGES.values() for v in (0, 1, -1, int(high), int(high) + 1)}
                | {2**31, 2**32, 2**63 - 1, 2**63, -(2**63), 10**400})
any_value = st.one_of(
    st.integers(),
    st.sampled_from(_edges),
    st.floats(),  # nan, inf, subnormals, -0.0
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from([*MODELS, *FRAMEWORKS, *PRECISIONS, *SCENARIOS, *MODES, *PRESETS, "synthetic", "random"]),
    st.lists(st.sampled_from([*MODELS, *PRECISIONS, *SCENARIOS, *FRAMEWORKS, "x"]), max_size=6),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.none(),
)
_key_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=10)


@st.composite
def known_key_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A table built from the schema's keys (sometimes a typo or a stranger), random values."""
    data: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), max_size=len(TOP_KEYS), unique=True)):
        data[key] = draw(any_value)
    for table, keys in TABLE_KEYS.items():
        if draw(st.booleans()):
            if draw(st.integers(0, 9)) == 0:
                data[table] = draw(any_value)  # a table written as a scalar
                continue
            data[table] = {k: draw(any_value) for k in draw(st.lists(st.sampled_from(keys), unique=True))}
    if draw(st.integers(0, 7)) == 0:
        data[draw(_key_text)] = draw(any_value)
    return data


@st.composite
def valid_profiles(draw: st.DrawFn) -> RunProfile:
    """Profiles inside every range (including the extremes)."""

    def num(key: str) -> Any:
        high, zero = RANGES[key]
        if key in FLOAT_KEYS:
            return draw(st.floats(min_value=5e-324, max_value=high, allow_nan=False) | st.just(float(high)))
        return draw(st.integers(0 if zero else 1, int(high)) | st.sampled_from([0 if zero else 1, int(high)]))

    def maybe(key: str) -> Any:
        return num(key) if draw(st.booleans()) else None

    name = draw(st.text(min_size=1, max_size=30).filter(lambda s: bool(s.strip()) and is_plain(s)))
    source = draw(st.sampled_from(["synthetic", "/data/imagenet/val", "dir with spaces/ünïcode"]))
    count = num("dataset.count")
    if source == "synthetic" and count == 0:
        count = 1
    precision = draw(st.sampled_from(PRECISIONS))
    sweep = draw(st.none() | st.builds(
        SweepSpec,
        models=st.lists(st.sampled_from(MODELS), unique=True).map(tuple),
        frameworks=st.lists(st.sampled_from(FRAMEWORKS), unique=True).map(tuple),
        precisions=st.lists(st.sampled_from(PRECISIONS), unique=True).map(tuple),
        scenarios=st.lists(st.sampled_from(SCENARIOS), unique=True).map(tuple),
    ))
    calibration = num("dataset.calibration_count")
    int8 = precision == "int8_static" or (sweep is not None and "int8_static" in sweep.precisions)
    if int8 and count > 0:
        calibration = min(calibration, count)
    return RunProfile(
        name=name,
        model=draw(st.sampled_from(MODELS)),
        framework=draw(st.sampled_from(FRAMEWORKS)),
        precision=precision,
        scenario=draw(st.sampled_from(SCENARIOS)),
        mode=draw(st.sampled_from(MODES)),
        threads=num("threads"),
        batch_size=num("batch_size"),
        warmup_queries=num("warmup_queries"),
        weights=WeightsSpec(source=draw(st.sampled_from(["random", "torchvision", "/w/m.pth"])), seed=num("weights.seed")),
        dataset=DatasetSpec(source=source, count=count, seed=num("dataset.seed"),
                            performance_sample_count=num("dataset.performance_sample_count"),
                            calibration_count=calibration),
        loadgen=LoadGenSpec(
            preset=draw(st.sampled_from(PRESETS)),
            **{k.split(".")[1]: maybe(k) for k in RANGES if k.startswith("loadgen.")},
        ),
        sweep=sweep,
    )


# -- properties -----------------------------------------------------------------------------------

@PROPERTY
@given(known_key_tables())
def test_random_tables_load_within_bounds_or_raise_profile_error(data: dict[str, Any]) -> None:
    try:
        p = prof.profile_from_dict(data, "p.toml", strict=True)
    except ProfileError as err:
        assert_profile_error(err)
    else:
        assert_within_bounds(p)


@PROPERTY
@given(known_key_tables())
def test_random_toml_documents_load_within_bounds_or_raise_profile_error(data: dict[str, Any]) -> None:
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # None has no TOML form
        text = tomli_w.dumps({k: v for k, v in data.items() if v is not None and not isinstance(v, dict)})
    try:
        p = prof.loads(text, "p.toml")
    except ProfileError as err:
        assert_profile_error(err)
    else:
        assert_within_bounds(p)


@PROPERTY
@given(valid_profiles(), st.data())
def test_damaged_toml_text_is_a_profile_error_or_a_bounded_profile(p: RunProfile, data: st.DataObject) -> None:
    text = prof.dumps(p)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 8)))
    text = text[:start] + data.draw(st.text(max_size=8)) + text[end:]
    try:
        loaded = prof.loads(text, "p.toml")
    except ProfileError as err:
        assert_profile_error(err)
    else:
        assert_within_bounds(loaded)


@PROPERTY
@given(st.text(max_size=200))
def test_arbitrary_text_is_a_profile_error_or_a_bounded_profile(text: str) -> None:
    try:
        loaded = prof.loads(text, "p.toml")
    except ProfileError as err:
        assert_profile_error(err)
    else:
        assert_within_bounds(loaded)


@PROPERTY
@given(st.sampled_from(ALL_DOTTED) | _key_text, st.text(max_size=30) | st.sampled_from(
    ["nan", "inf", "-inf", "1e999", "1" + "0" * 5000, "[" * 3000, "true", "2**63", "9223372036854775807", "0x7f"]))
def test_random_overrides_give_a_bounded_profile_or_a_profile_error(key: str, raw: str) -> None:
    try:
        p = prof.apply_overrides(RunProfile(), [f"{key}={raw}"])
    except ProfileError as err:
        assert_profile_error(err)
    else:
        assert_within_bounds(p)


@PROPERTY
@given(valid_profiles())
def test_valid_profiles_round_trip_exactly(p: RunProfile) -> None:
    prof.validate(p, "generated")  # the generator stays inside the ranges
    text = prof.dumps(p)
    again = prof.loads(text, "p.toml")
    assert again == p
    assert prof.dumps(again) == text
    assert_within_bounds(again)


# -- files that are not profile files -------------------------------------------------------------

def _load_in_thread(path: Path) -> tuple[threading.Thread, list[BaseException | RunProfile]]:
    outcome: list[BaseException | RunProfile] = []

    def target() -> None:
        try:
            outcome.append(prof.load(path))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "profile.toml"
    os.mkfifo(fifo)
    thread, outcome = _load_in_thread(fifo)
    thread.join(60)  # a guard, not a timing claim: opening a FIFO blocks until a writer comes
    blocked = thread.is_alive()
    if blocked:  # release the reader so the test ends
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(60)
    assert not blocked, "load() blocked opening a FIFO"
    assert len(outcome) == 1 and isinstance(outcome[0], ProfileError), outcome
    assert str(outcome[0]) == f"{fifo}: is a FIFO, not a profile file"
    assert outcome[0].key is None
    # through a symlink too
    link = tmp_path / "link.toml"
    link.symlink_to(fifo)
    with pytest.raises(ProfileError, match="is a FIFO"):
        prof.load(link)


def test_a_directory_and_a_device_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        prof.load(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory, not a profile file"
    # /dev/null reads as an empty text: before, that was a silent default run
    with pytest.raises(ProfileError) as err:
        prof.load("/dev/null")
    assert str(err.value) == "/dev/null: is a character device, not a profile file"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    head = 'name = "big"\n'
    path = tmp_path / "big.toml"
    path.write_text(head + "#" * (prof.MAX_PROFILE_BYTES - len(head) - 1) + "\n")
    assert path.stat().st_size == prof.MAX_PROFILE_BYTES
    assert prof.load(path).name == "big"  # exactly 64 KB is still a profile
    with path.open("a") as fh:
        fh.write("\n")
    with pytest.raises(ProfileError) as err:
        prof.load(path)
    assert str(err.value) == f"{path}: 65_537 bytes is too large for a profile (at most 64 KB)"


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('schema_version = 1\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ProfileError) as err:
        prof.load(path)
    assert str(err.value) == f"{path}:2: not UTF-8 text (byte 0xe9 at offset 30)"
    assert err.value.key is None


@pytest.mark.parametrize("text", ["", "\n \t\n", "# nothing but a comment\n"])
def test_an_empty_file_is_an_error_not_a_default_run(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=r"empty profile") as err:
        prof.load(path)
    assert str(err.value).startswith(f"{path}: empty profile")


def test_a_path_with_a_nul_byte_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match="cannot read profile"):
        prof.load("bad\0name.toml")


def test_the_extremes_of_every_range_load(tmp_path: Path) -> None:
    """A profile at every upper bound at once is still a profile (and round-trips)."""
    p = replace(
        RunProfile(name="max", precision="int8_static"),
        threads=1024, batch_size=1024, warmup_queries=10_000,
        weights=WeightsSpec(seed=2**32 - 1),
        dataset=DatasetSpec(count=50_000, seed=2**32 - 1, performance_sample_count=50_000, calibration_count=50_000),
        loadgen=LoadGenSpec(min_duration_ms=86_400_000, max_duration_ms=86_400_000, min_query_count=10_000_000,
                            max_query_count=10_000_000, expected_latency_ms=3_600_000.0, expected_qps=1e6,
                            samples_per_query=1024),
    )
    path = prof.save(p, tmp_path / "max.toml")
    assert prof.load(path) == p
