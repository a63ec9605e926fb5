"""Profiles: load/validate/save, every user-error path, overrides and sweeps."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from qtui.core import profile as prof
from qtui.core.profile import ProfileError, RunProfile

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_profiles_load() -> None:
    names = sorted(p.name for p in (ROOT / "profiles").glob("*.toml"))
    assert {"quick.toml", "singlestream.toml", "multistream.toml", "offline.toml"} <= set(names)
    scenarios = set()
    for path in (ROOT / "profiles").glob("*.toml"):
        loaded = prof.load(path)
        scenarios.add(loaded.scenario)
    assert scenarios == {"SingleStream", "MultiStream", "Offline"}


def test_save_load_roundtrip_exact(tmp_path: Path) -> None:
    original = RunProfile(
        name="x",
        model="densenet121",
        framework="torch",
        precision="int8_static",
        scenario="Offline",
        mode="accuracy",
        threads=3,
        batch_size=4,
        weights=prof.WeightsSpec(source="/tmp/w.pth", seed=7),
        dataset=prof.DatasetSpec(source="/data/imagenet", count=0, performance_sample_count=64, calibration_count=100),
        loadgen=prof.LoadGenSpec(preset="mlperf", min_query_count=10, expected_qps=123.5, max_duration_ms=1000),
        sweep=prof.SweepSpec(precisions=("fp32", "int8_static")),
    )
    path = prof.save(original, tmp_path / "p.toml")
    assert prof.load(path) == original
    # and the default one
    prof.save(RunProfile(), tmp_path / "d.toml")
    assert prof.load(tmp_path / "d.toml") == RunProfile()


def test_save_refuses_silent_overwrite(tmp_path: Path) -> None:
    path = prof.save(RunProfile(), tmp_path / "p.toml")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        prof.save(RunProfile(name="other"), tmp_path / "p.toml")
    assert path.read_bytes() == before and prof.load(path) == RunProfile()  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]  # no stray temp file
    prof.save(RunProfile(name="other"), tmp_path / "p.toml", overwrite=True)
    assert prof.load(tmp_path / "p.toml").name == "other"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def test_unknown_key_names_file_key_and_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, 'schema_version = 1\nmodle = "vgg19"\n')
    with pytest.raises(ProfileError) as err:
        prof.load(path)
    msg = str(err.value)
    assert str(path) in msg and "'modle'" in msg and "did you mean 'model'" in msg


def test_unknown_key_in_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "[loadgen]\nmin_querry_count = 5\n")
    with pytest.raises(ProfileError, match=r"loadgen.min_querry_count.*did you mean 'min_query_count'"):
        prof.load(path)


def test_bad_value_names_key_value_and_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, 'precision = "int4"\n')
    with pytest.raises(ProfileError) as err:
        prof.load(path)
    msg = str(err.value)
    assert str(path) in msg and "'precision'" in msg and "'int4'" in msg
    assert "fp32, fp16, int8_dynamic, int8_static" in msg


def test_bad_type(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"'threads': '4' is not an integer"):
        prof.load(_write(tmp_path, 'threads = "4"\n'))
    with pytest.raises(ProfileError, match=r"'batch_size'.*must be > 0"):
        prof.load(_write(tmp_path, "batch_size = 0\n"))
    with pytest.raises(ProfileError, match=r"'weights' must be a table"):
        prof.load(_write(tmp_path, 'weights = "random"\n'))


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "a"\nmodel = \n')
    with pytest.raises(ProfileError) as err:
        prof.load(path)
    assert f"{path}:2:" in str(err.value)
    assert "TOML syntax error" in str(err.value)


def test_schema_version_checked(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="schema_version"):
        prof.load(_write(tmp_path, "schema_version = 99\n"))


def test_missing_file() -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        prof.load("/nonexistent/p.toml")


def test_overrides() -> None:
    p = prof.apply_overrides(RunProfile(), ["precision=fp16", "loadgen.min_query_count=128", "dataset.source=/x", "threads=2"])
    assert p.precision == "fp16" and p.loadgen.min_query_count == 128 and p.dataset.source == "/x" and p.threads == 2
    with pytest.raises(ProfileError, match="did you mean 'scenario'"):
        prof.apply_overrides(RunProfile(), ["scenari=Offline"])
    with pytest.raises(ProfileError, match="not key=value"):
        prof.apply_overrides(RunProfile(), ["precision"])


def test_sweep_expansion() -> None:
    p = RunProfile(sweep=prof.SweepSpec(frameworks=("onnxruntime", "torch"), precisions=("fp32", "int8_static")))
    runs = prof.expand_sweep(p)
    assert len(runs) == 4
    assert {(r.framework, r.precision) for r in runs} == {
        ("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("torch", "fp32"), ("torch", "int8_static")
    }
    assert all(r.sweep is None for r in runs)
    assert prof.expand_sweep(RunProfile()) == [RunProfile()]
    with pytest.raises(ProfileError, match="sweep.models"):
        prof.loads('[sweep]\nmodels = ["resnet"]\n')


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qtui", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_profile_error_exit_2_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, 'schema_version = 1\nscenario = "Server"\n')
    out = _cli("run", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "'scenario'" in out.stderr and "SingleStream, MultiStream, Offline" in out.stderr
    out = _cli("run", str(ROOT / "profiles" / "quick.toml"), "--set", "framwork=torch")
    assert out.returncode == 2 and "did you mean 'framework'" in out.stderr and "Traceback" not in out.stderr


# -- bounds: every numeric key has a range a real run could need, checked on load ---------------

# (key, lowest allowed, highest allowed, just below, just above); literal numbers on purpose: the
# test states the documented ranges instead of reading them back from the module.
_FLOAT_MAX_LATENCY = 3_600_000.0
_RANGES: list[tuple[str, object, object, object, object]] = [
    ("threads", 0, 1024, -1, 1025),
    ("batch_size", 1, 1024, 0, 1025),
    ("warmup_queries", 0, 10_000, -1, 10_001),
    ("weights.seed", 0, 2**32 - 1, -1, 2**32),
    ("dataset.count", 1, 50_000, -1, 50_001),
    ("dataset.seed", 0, 2**32 - 1, -1, 2**32),
    ("dataset.performance_sample_count", 1, 50_000, 0, 50_001),
    ("dataset.calibration_count", 1, 50_000, 0, 50_001),
    ("loadgen.min_duration_ms", 0, 86_400_000, -1, 86_400_001),
    ("loadgen.max_duration_ms", 0, 86_400_000, -1, 86_400_001),
    ("loadgen.min_query_count", 0, 10_000_000, -1, 10_000_001),
    ("loadgen.max_query_count", 0, 10_000_000, -1, 10_000_001),
    ("loadgen.expected_latency_ms", 5e-324, _FLOAT_MAX_LATENCY, 0.0, math.nextafter(_FLOAT_MAX_LATENCY, math.inf)),
    ("loadgen.expected_qps", 5e-324, 1e6, 0.0, math.nextafter(1e6, math.inf)),
    ("loadgen.samples_per_query", 1, 1024, 0, 1025),
]


def _toml_for(key: str, value: object) -> str:
    text = tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
    if "." in key:
        table, name = key.split(".")
        return f'name = "b"\n[{table}]\n{name} = {text}\n'
    return f'name = "b"\n{key} = {text}\n'


@pytest.mark.parametrize(("key", "low", "high", "below", "above"), _RANGES, ids=[r[0] for r in _RANGES])
def test_each_numeric_key_is_bounded_on_load(key: str, low: object, high: object, below: object, above: object) -> None:
    for ok in (low, high):
        loaded = prof.loads(_toml_for(key, ok), "p.toml")
        obj: object = loaded
        for part in key.split("."):
            obj = getattr(obj, part)
        assert obj == ok
        # and the same through --set / the setup screen
        assert prof.apply_overrides(RunProfile(), [f"{key}={ok!r}"]) is not None
    for bad in (below, above):
        with pytest.raises(ProfileError) as err:
            prof.loads(_toml_for(key, bad), "p.toml")
        assert err.value.key == key
        assert str(err.value).startswith(f"p.toml: key '{key}': ")
        with pytest.raises(ProfileError) as err:
            prof.apply_overrides(RunProfile(), [f"{key}={bad!r}"])
        assert err.value.key == key


def test_upper_bound_message_names_the_limit_once() -> None:
    with pytest.raises(ProfileError) as err:
        prof.loads("[loadgen]\nmin_query_count = 9223372036854775807\n", "p.toml")
    msg = str(err.value)
    assert msg.startswith("p.toml: key 'loadgen.min_query_count': 9223372036854775807 ")
    assert msg.count("10_000_000") == 1 and "\n" not in msg
    with pytest.raises(ProfileError, match=r"'threads': 100000 .*at most 1024"):
        prof.loads("threads = 100000\n")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_floats_are_refused(value: str) -> None:
    with pytest.raises(ProfileError, match="not a finite number") as err:
        prof.loads(f"[loadgen]\nexpected_qps = {value}\n")
    assert err.value.key == "loadgen.expected_qps"
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), [f"loadgen.expected_latency_ms={value}"])
    assert err.value.key == "loadgen.expected_latency_ms"


def test_bool_is_not_an_integer_nor_a_number() -> None:
    with pytest.raises(ProfileError, match=r"'threads': True is not an integer") as err:
        prof.loads("threads = true\n")
    assert err.value.key == "threads"
    with pytest.raises(ProfileError, match="is not a number") as err:
        prof.loads("[loadgen]\nexpected_qps = false\n")
    assert err.value.key == "loadgen.expected_qps"


def test_study_quality_is_true_or_false(tmp_path: Path) -> None:
    assert prof.loads("[study]\nrepeats = 3\n").study.quality is True  # type: ignore[union-attr]
    off = prof.loads("[study]\nquality = false\n")
    assert off.study is not None and off.study.quality is False
    with pytest.raises(ProfileError, match=r"'study.quality': 1 is not true or false") as err:
        prof.loads("[study]\nquality = 1\n")
    assert err.value.key == "study.quality"
    with pytest.raises(ProfileError, match="is not true or false"):
        prof.loads('[study]\nquality = "no"\n')
    assert prof.apply_overrides(RunProfile(), ["study.quality=false"]).study.quality is False  # type: ignore[union-attr]
    path = prof.save(off, tmp_path / "q.toml")
    assert prof.load(path) == off


def test_huge_numbers_are_a_profile_error_not_a_crash() -> None:
    # a 400-digit integer where a float is expected overflowed float() (OverflowError)
    with pytest.raises(ProfileError) as err:
        prof.loads("[loadgen]\nexpected_qps = 1" + "0" * 400 + "\n")
    assert err.value.key == "loadgen.expected_qps" and len(str(err.value)) < 200
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), ["loadgen.expected_qps=1" + "0" * 400])
    assert err.value.key == "loadgen.expected_qps"
    # more digits than Python converts (ValueError from the TOML parser)
    with pytest.raises(ProfileError, match="too many digits") as err:
        prof.loads("threads = 1" + "0" * 5000 + "\n", "p.toml")
    assert err.value.key is None
    with pytest.raises(ProfileError, match="too many digits") as err:
        prof.apply_overrides(RunProfile(), ["threads=1" + "0" * 5000])
    assert err.value.key == "threads"
    # an integer past 64 bits in an integer field is named by its size, not printed in full
    with pytest.raises(ProfileError) as err:
        prof.profile_from_dict({"threads": 10**4000}, strict=True)
    assert err.value.key == "threads" and len(str(err.value)) < 200


def test_deeply_nested_toml_is_a_profile_error_not_a_recursion_error() -> None:
    with pytest.raises(ProfileError, match="nested too deeply") as err:
        prof.loads("threads = " + "[" * 5000 + "]" * 5000 + "\n", "p.toml")
    assert err.value.key is None
    with pytest.raises(ProfileError, match="nested too deeply") as err:
        prof.apply_overrides(RunProfile(), ["threads=" + "[" * 5000 + "]" * 5000])
    assert err.value.key == "threads"


# -- calibration_count against count --------------------------------------------------------------

def test_calibration_beyond_the_images_is_an_error_naming_both_keys() -> None:
    text = 'precision = "int8_static"\n[dataset]\ncount = 256\ncalibration_count = 300\n'
    with pytest.raises(ProfileError) as err:
        prof.loads(text, "p.toml")
    msg = str(err.value)
    assert "'dataset.calibration_count'" in msg and "'dataset.count'" in msg
    assert "300" in msg and "256" in msg
    assert err.value.key == "dataset.calibration_count"
    assert set(err.value.keys) == {"dataset.calibration_count", "dataset.count"}
    # a sweep that includes INT8 static calibrates too
    with pytest.raises(ProfileError) as err:
        prof.loads('[dataset]\ncount = 32\ncalibration_count = 64\n[sweep]\nprecisions = ["fp32", "int8_static"]\n')
    assert err.value.key == "dataset.calibration_count"
    # equal is fine; count = 0 (a whole folder) is checked at run time
    prof.loads('precision = "int8_static"\n[dataset]\ncount = 256\ncalibration_count = 256\n')
    prof.loads('precision = "int8_static"\n[dataset]\nsource = "/data/val"\ncount = 0\ncalibration_count = 5000\n')
    # a run that does not calibrate does not care
    assert prof.loads("[dataset]\ncount = 32\ncalibration_count = 300\n").dataset.calibration_count == 300


def test_setting_count_below_the_default_calibration_count_for_int8_static() -> None:
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), ["precision=int8_static", "dataset.count=32"])
    assert err.value.key == "dataset.calibration_count"
    p = prof.apply_overrides(RunProfile(), ["precision=int8_static", "dataset.count=32", "dataset.calibration_count=32"])
    assert p.dataset.calibration_count == 32


def test_defaults_and_shipped_profiles_calibrate_no_more_than_their_images() -> None:
    d = RunProfile().dataset
    assert d.calibration_count <= d.count
    for path in (ROOT / "profiles").glob("*.toml"):
        ds = prof.load(path).dataset
        assert ds.count == 0 or ds.calibration_count <= ds.count, path.name
        # and each would still load as INT8 static
        prof.apply_overrides(prof.load(path), ["precision=int8_static"])


def test_default_calibration_256_chooses_the_same_images_as_the_old_300_capped() -> None:
    """The default went from 300 (silently capped to the 256 images) to 256: the chosen indices,
    hence the INT8 static artifacts' cache keys, are unchanged."""
    from qtui.core.data import SyntheticDataset, calibration_indices

    ds = SyntheticDataset(256, seed=0)
    assert calibration_indices(ds, 300, seed=0) == calibration_indices(ds, 256, seed=0) == list(range(256))


def test_runtime_warning_when_a_whole_folder_has_fewer_images_than_calibration_count() -> None:
    p = prof.apply_overrides(RunProfile(), ["precision=int8_static", "dataset.source=/data/val", "dataset.count=0", "dataset.calibration_count=500"])
    warning = prof.calibration_warning(p, images=120)
    assert warning is not None and "500" in warning and "120" in warning and "dataset.calibration_count" in warning
    assert prof.calibration_warning(p, images=500) is None
    assert prof.calibration_warning(replace(p, precision="fp32"), images=120) is None


# -- ProfileError.key, one per kind of error ------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('modle = "vgg19"\n', "modle"),
        ("[loadgen]\nmin_querry_count = 5\n", "loadgen.min_querry_count"),
        ('threads = "4"\n', "threads"),
        ('precision = "int4"\n', "precision"),
        ('[loadgen]\npreset = "fast"\n', "loadgen.preset"),
        ('weights = "random"\n', "weights"),
        ("schema_version = 99\n", "schema_version"),
        ('name = "  "\n', "name"),
        ('[weights]\nsource = " "\n', "weights.source"),
        ("[dataset]\ncount = 0\n", "dataset.count"),
        ("batch_size = 0\n", "batch_size"),
        ('[sweep]\nmodels = ["resnet"]\n', "sweep.models"),
        ('[sweep]\nprecisions = ["fp32", "fp32"]\n', "sweep.precisions"),
        ("[sweep]\nframeworks = [1]\n", "sweep.frameworks"),
        ('name = "a"\nmodel = \n', None),
        ("", None),
    ],
)
def test_profile_error_carries_the_key(text: str, key: str | None) -> None:
    with pytest.raises(ProfileError) as err:
        prof.loads(text, "p.toml")
    assert err.value.key == key
    if key is not None:
        assert f"'{key}'" in str(err.value)


def test_profile_error_key_for_files_and_overrides(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        prof.load(tmp_path / "missing.toml")
    assert err.value.key is None
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), ["precision"])
    assert err.value.key is None
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), ["threads.x=1"])
    assert err.value.key == "threads.x"
    with pytest.raises(ProfileError) as err:
        prof.apply_overrides(RunProfile(), ["dataset.count=many"])
    assert err.value.key == "dataset.count"


# -- messages say things once ---------------------------------------------------------------------

def test_bad_choice_lists_the_allowed_values_once() -> None:
    for text in ('precision = "int9"\n', 'precision = "fp33"\n', '[sweep]\nprecisions = ["int9"]\n'):
        with pytest.raises(ProfileError) as err:
            prof.loads(text, "p.toml")
        msg = str(err.value)
        assert msg.count("fp32, fp16, int8_dynamic, int8_static") == 1, msg
        assert "allowed values" not in msg, msg
    with pytest.raises(ProfileError, match=r"did you mean 'fp32'\?"):
        prof.loads('precision = "fp33"\n')


def test_a_value_with_a_newline_stays_on_one_line() -> None:
    with pytest.raises(ProfileError) as err:
        prof.loads('precision = "fp32\\nfp16"\n')
    assert "\n" not in str(err.value)


# -- empty profiles -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n  # another\n"])
def test_empty_profile_is_an_error_not_a_default_run(tmp_path: Path, text: str) -> None:
    with pytest.raises(ProfileError, match="empty profile") as err:
        prof.loads(text, "p.toml")
    assert err.value.key is None
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError, match="empty profile") as err:
        prof.load(path)
    assert str(err.value).startswith(f"{path}: ")


def test_recorded_profiles_stay_readable_without_the_new_limits() -> None:
    """Results embed the profile they ran; one recorded before the limits (INT8 static with the
    old default 300 calibration images of 256) still loads, so nothing measured is lost."""
    old = prof.to_dict(replace(RunProfile(precision="int8_static"), dataset=prof.DatasetSpec(count=256, calibration_count=300)))
    assert prof.profile_from_dict(old).dataset.calibration_count == 300
    with pytest.raises(ProfileError):
        prof.profile_from_dict(old, strict=True)


def test_cli_refuses_an_unbounded_value_with_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "schema_version = 1\n[loadgen]\nmin_query_count = 9223372036854775807\n")
    out = _cli("run", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "loadgen.min_query_count" in out.stderr and "10_000_000" in out.stderr
    out = _cli("run", "quick", "--set", "threads=100000")
    assert out.returncode == 2 and "'threads'" in out.stderr and "Traceback" not in out.stderr
    empty = _write(tmp_path, "")
    out = _cli("run", str(empty))
    assert out.returncode == 2 and "empty profile" in out.stderr
