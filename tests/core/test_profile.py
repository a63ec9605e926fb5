"""Profiles: load/validate/save, every user-error path, overrides and sweeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    prof.save(RunProfile(), tmp_path / "p.toml")
    with pytest.raises(FileExistsError):
        prof.save(RunProfile(name="other"), tmp_path / "p.toml")
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
