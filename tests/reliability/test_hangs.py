"""Hangs, tracebacks and wrong messages from hostile input (issue 20, items 12-19): profiles the
TOML parser would take minutes on, profiles that name nothing they run, byte order marks and
look-alike letters; Ctrl-C anywhere ends with exit 130; FIFOs, devices and damaged cache files
are refused without blocking; unusable folders and full disks give one line and leave nothing;
impossible figures in result files are skipped with a warning; bundles inflating far past their
declared size are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import profile as prof
from qtui.core.profile import ProfileError

# -- item 14: what a profile may contain is bounded before TOML parses it ------------------------

def _deep_key(size: int) -> str:
    return "a" + ".a" * (size // 2) + " = 1\n"


def _nested_headers(size: int) -> str:
    lines, key = [], "a"
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"[{key}]")
        key += ".a"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("make", [_deep_key, _nested_headers])
def test_a_pathological_profile_is_refused_before_parsing(tmp_path: Path, make: Any) -> None:
    # 60 KB: under the size cap; tomllib needs tens of seconds on a key this deep
    path = tmp_path / "deep.toml"
    path.write_text(make(60_000))
    with pytest.raises(ProfileError, match=r"more than 16 dots outside strings on one line") as err:
        prof.load(path)
    assert str(err.value).startswith(f"{path}:{1 if make is _deep_key else 18}: ")


def test_profile_size_lines_and_nesting_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text('model = "vgg19"\n' + "#\n" * 3000)
    with pytest.raises(ProfileError, match="more than 2_000 lines"):
        prof.load(path)
    with pytest.raises(ProfileError, match="nested too deeply"):
        prof.loads("threads = " + "[" * 9 + "]" * 9 + "\n", "p.toml")
    with pytest.raises(ProfileError, match=r"too large for a profile \(at most 64 KB\)"):
        prof.loads('model = "vgg19"\n' + "#" * 70_000 + "\n", "p.toml")


def test_dots_in_strings_and_comments_are_not_counted() -> None:
    dotted = "/a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.pth"
    text = (
        f'# a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v\nmodel = "vgg19"\n[weights]\nsource = "{dotted}"\n'
        f"[dataset]\nsource = '''\n{dotted}'''\n"
    )
    loaded = prof.loads(text, "p.toml")
    assert loaded.weights.source == dotted and loaded.dataset.source == "\n".join(["", dotted])[1:]


def test_an_override_value_is_bounded_too() -> None:
    with pytest.raises(ProfileError, match="more than 16 dots") as err:
        prof.apply_overrides(prof.RunProfile(), ["threads={" + "a." * 40 + "a = 1}"])
    assert err.value.key == "threads"


# -- item 19: profiles empty in substance, byte order marks, look-alike letters -------------------

@pytest.mark.parametrize("text", ["[loadgen]\npreset = \"quick\"\n", "[study]\nrepeats = 3\n"])
def test_a_profile_that_names_nothing_it_runs_warns(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty-ish.toml"
    path.write_text(text)
    loaded, note = prof.load_with_note(path)
    assert note == (
        f"{path}: this profile sets no model, framework, precision or scenario: the defaults are used "
        f"(mobilenet_v2 · onnxruntime · fp32 · SingleStream)"
    )
    out = CliRunner().invoke(cli.main, ["run", str(path), "--set", "threads=oops"])
    assert out.exit_code == 2
    assert f"qtui: warning: {note}" in out.stderr
    for named in ('model = "vgg19"\n', '[sweep]\nframeworks = ["onnxruntime"]\n', 'scenario = "Offline"\n'):
        path.write_text(named + text)
        assert prof.load_with_note(path)[1] is None


def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeffmodel = \"vgg19\"\n".encode())
    assert prof.load(path).model == "vgg19"


def test_a_look_alike_letter_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        prof.loads('precision = "int8_\u0455tatic"\n', "p.toml")
    assert str(err.value) == (
        "p.toml: key 'precision': 'int8_\\u0455tatic' holds a non-ASCII character, U+0455 CYRILLIC "
        "SMALL LETTER DZE at position 6; allowed: fp32, fp16, int8_dynamic, int8_static "
        "(did you mean 'int8_static'?)"
    )
    assert err.value.key == "precision"
    with pytest.raises(ProfileError) as err:
        prof.loads('[sweep]\nmodels = ["vgg\u0661\u0669"]\n', "p.toml")
    assert "U+0661 ARABIC-INDIC DIGIT ONE at position 4" in str(err.value)
    # a key is bare ASCII in TOML: the syntax error says which letter is not
    with pytest.raises(ProfileError) as err:
        prof.loads('model = "vgg19"\np\u0440ecision = "fp32"\n', "p.toml")
    assert str(err.value).endswith("(U+0440 CYRILLIC SMALL LETTER ER is not ASCII: keys are ASCII)")
    assert str(err.value).startswith("p.toml:2:2: TOML syntax error")
    # a quoted key may hold anything: named as well
    with pytest.raises(ProfileError) as err:
        prof.loads('"pr\u0435cision" = "fp32"\n', "p.toml")
    assert "U+0435 CYRILLIC SMALL LETTER IE at position 3" in str(err.value)
    assert "did you mean 'precision'" in str(err.value)


# -- item 17: Ctrl-C anywhere is exit 130 with one line ------------------------------------------

def _interrupt(*args: Any, **kwargs: Any) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_while_reading_a_profile_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prof, "_read_profile_text", _interrupt)
    out = CliRunner().invoke(cli.main, ["run", "quick"])
    assert out.exit_code == 130, out.output
    assert out.stderr.strip() == "qtui: interrupted"
    assert "Aborted" not in out.output


def test_ctrl_c_during_a_bundle_import_exits_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from qtui.core import bundle

    monkeypatch.setattr(bundle, "import_bundle", _interrupt)
    out = CliRunner().invoke(cli.main, ["bundle", "import", str(tmp_path / "x.tar.gz")])
    assert out.exit_code == 130, out.output
    assert "Aborted" not in out.output


# -- item 15: what a bundle inflates is bounded, after the archive's end too -----------------------

def _bundle_with_trailing_zeros(path: Path, zeros: int) -> Path:
    """A well-formed bundle whose gzip stream goes on, after the tar's end, with `zeros` bytes
    of zeros (the same single gzip member, so its CRC is right)."""
    import gzip
    import zlib

    from tests.reliability.test_bundles import good_bundle

    plain = gzip.decompress(good_bundle(path.with_suffix(".plain.tar.gz")).read_bytes())
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, parts = zlib.crc32(plain), [body.compress(plain)]
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(body.compress(block))
        crc = zlib.crc32(block, crc)
    parts.append(body.flush())
    total = len(plain) + (zeros >> 20 << 20)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(header + b"".join(parts) + crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little"))
    return path


def test_a_bundle_inflating_far_past_its_end_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import bundle
    from qtui.core.artifacts import list_artifacts

    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    bomb = _bundle_with_trailing_zeros(tmp_path / "bomb.tar.gz", 64 << 20)
    assert bomb.stat().st_size < 200_000  # 64 MB of zeros in well under 1 MB
    with pytest.raises(bundle.BundleError) as err:
        bundle.import_bundle(bomb)
    assert str(err.value) == (
        f"{bomb}: refused: more than 1.0 MB of data after the end of the archive, which no tar writer pads with"
    )
    assert list_artifacts() == []
    # tar's own padding after the end is fine
    honest = _bundle_with_trailing_zeros(tmp_path / "honest.tar.gz", 0)
    assert [i.status for i in bundle.import_bundle(honest)] == ["imported"]
    # and a second import of it (the artifact present, its members skipped) too
    assert [i.status for i in bundle.import_bundle(honest)] == ["already present"]


# -- item 13: FIFOs, devices and damaged cache files never block, exhaust memory or traceback -------

def _without_blocking(fifo: Path, call: Any) -> list[Any]:
    """`call()` in a thread: its outcome (value or exception); a reader blocked on `fifo` is
    released (and the test fails) instead of hanging the suite."""
    import os
    import threading

    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - the outcome under test
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(60)  # a guard, not a timing claim: opening a FIFO blocks until a writer comes
    blocked = thread.is_alive()
    if blocked:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(60)
    assert not blocked, f"blocked on {fifo}"
    return outcome


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_as_weights_is_refused_without_reading(tmp_path: Path, kind: str) -> None:
    import os

    from qtui.core.models import load_model
    from qtui.core.models.weights import WeightsError
    from qtui.core.prepare import PrepareError, weights_identity

    fifo = tmp_path / "weights.pth"
    os.mkfifo(fifo)
    target = fifo if kind == "fifo" else Path("/dev/zero")
    what = "a FIFO" if kind == "fifo" else "a character device"
    [err] = _without_blocking(fifo, lambda: load_model("mobilenet_v2", weights="file", path=str(target)))
    assert isinstance(err, WeightsError), err
    assert str(err).startswith(f"weights path {target} is not a file ({what}); weights.source must be")
    # the artifact key hashes the file first: refused there too
    profile = prof.RunProfile(weights=prof.WeightsSpec(source=str(target)))
    [err] = _without_blocking(fifo, lambda: weights_identity(profile))
    assert isinstance(err, PrepareError), err
    assert str(err).startswith(f"weights path {target} is {what}, not a regular file")


def test_random_bytes_are_not_called_pickled_objects(tmp_path: Path) -> None:
    import os

    from qtui.core.models import load_model
    from qtui.core.models.weights import WeightsError

    path = tmp_path / "noise.pth"
    path.write_bytes(b"\x7b" + os.urandom(4095))  # '{': no pickle opcode the unpickler takes
    with pytest.raises(WeightsError) as err:
        load_model("mobilenet_v2", weights="file", path=str(path))
    assert str(err.value) == (
        f"weights file {path} is not a PyTorch checkpoint (neither a zip archive nor a pickle); "
        "qtui reads state dicts saved with torch.save(model.state_dict(), path)"
    )


def _cache_with_artifact(cache: Path, meta_json: Any) -> Path:
    folder = cache / "artifacts" / ("a" * 24)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"model")
    meta = folder / "meta.json"
    if callable(meta_json):
        meta_json(meta)
    else:
        meta.write_text(meta_json)
    return meta


@pytest.mark.parametrize(
    "damage",
    [
        "fifo",
        "zero",
        "[1, 2]",
        '{"file": 3, "framework": "onnxruntime", "precision": "fp32"}',
        '{"file": "../../etc/passwd", "framework": "onnxruntime", "precision": "fp32"}',
        '{"file": "model.onnx"}',
        "[" * 100_000,
    ],
)
def test_a_damaged_meta_json_is_skipped_by_bundle_list_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    import os

    cache = tmp_path / "cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    if damage == "fifo":
        meta = _cache_with_artifact(cache, lambda p: os.mkfifo(p))
    elif damage == "zero":
        meta = _cache_with_artifact(cache, lambda p: p.symlink_to("/dev/zero"))
    else:
        meta = _cache_with_artifact(cache, damage)
    fifo = meta if damage == "fifo" else tmp_path / "unused"
    if damage != "fifo":
        os.mkfifo(fifo)
    [out] = _without_blocking(fifo, lambda: CliRunner().invoke(cli.main, ["bundle", "list"]))
    assert out.exit_code == 0 and out.output == "" and out.exception is None, out.output
    [out] = _without_blocking(fifo, lambda: CliRunner().invoke(cli.main, ["bundle", "export", str(tmp_path / "b.tar.gz")]))
    assert out.exit_code == 2, out.output
    assert out.stderr == "qtui: no prepared artifacts match: prepare them first (qtui prepare PROFILE)\n"


# -- item 16: unusable folders, long names, full disks: one line, the right exit code, no .tmp -----

def test_an_unusable_config_folder_hides_no_shipped_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import profile_store

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("QTUI_CONFIG_DIR", str(blocker / "config"))
    assert profile_store.resolve("quick") == profile_store.shipped_dir() / "quick.toml"
    assert {e.name for e in profile_store.list_profiles()} >= {"quick", "offline"}
    with pytest.raises(profile_store.ProfileNotFound, match="no such profile file or profile name"):
        profile_store.resolve("mine")
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", "threads=oops"])
    assert out.exit_code == 2 and out.stderr == "qtui: --set: key 'threads': 'oops' is not an integer\n"


def test_a_profile_argument_longer_than_a_file_name(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli.main, ["run", "a" * 300])
    assert out.exit_code == 2, out.output
    assert out.stderr == f"qtui: {'a' * 40}…: not a profile: a file or profile name is at most 255 bytes\n"


@pytest.mark.parametrize("command", [["bundle", "list"], ["bundle", "export", "out.tar.gz"]])
def test_an_unusable_cache_folder_in_bundle_list_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("QTUI_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(cli.main, command)
    assert out.exit_code == 2, out.output
    assert out.stderr == f"qtui: cache folder (QTUI_CACHE_DIR) {blocker / 'cache'} lies under a file, not a folder\n"


def _one_artifact_cache(cache: Path) -> None:
    import json

    from tests.reliability.test_bundles import good_meta

    meta = good_meta()
    folder = cache / "artifacts" / meta["key"]
    folder.mkdir(parents=True)
    (folder / meta["file"]).write_bytes(b"model bytes")
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("fault", ["full disk", "interrupt"])
def test_a_failed_or_interrupted_export_leaves_no_tmp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    import errno
    import tarfile

    cache = tmp_path / "cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    _one_artifact_cache(cache)
    real_add = tarfile.TarFile.addfile  # the export writes each file's bytes (never a link)

    def failing_add(self: tarfile.TarFile, *args: Any, **kwargs: Any) -> None:
        real_add(self, *args, **kwargs)  # something is written first
        if fault == "interrupt":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "addfile", failing_add)
    out_dir = tmp_path / "out"
    out = CliRunner().invoke(cli.main, ["bundle", "export", str(out_dir / "b.tar.gz")])
    assert sorted(p.name for p in out_dir.iterdir()) == []
    if fault == "interrupt":
        assert out.exit_code == 130 and out.stderr.strip() == "qtui: interrupted", out.output
    else:
        assert out.exit_code == 1, out.output
        assert out.stderr == f"qtui: cannot write {out_dir / 'b.tar.gz'}: No space left on device\n"


def test_an_export_into_proc_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    _one_artifact_cache(tmp_path / "cache")
    out = CliRunner().invoke(cli.main, ["bundle", "export", "/proc/self/qtui.tar.gz"])
    assert out.exit_code == 1, out.output
    assert out.stderr.startswith("qtui: cannot write /proc/self/qtui.tar.gz: ") and out.stderr.count("\n") == 1


def test_a_dataset_source_too_long_is_bad_input() -> None:
    with pytest.raises(ProfileError) as err:
        prof.loads(f'model = "vgg19"\n[dataset]\nsource = "/{"d" * 10_000}"\n', "p.toml")
    assert err.value.key == "dataset.source"
    assert str(err.value) == "p.toml: key 'dataset.source': a path of at most 4096 bytes, each name at most 255"
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"dataset.source=/{'d' * 300}"])
    assert out.exit_code == 2
    assert out.stderr == "qtui: --set: key 'dataset.source': a path of at most 4096 bytes, each name at most 255\n"


def test_a_fifo_as_a_bundle_file_is_named_as_such(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "b.tar.gz"
    os.mkfifo(fifo)
    [out] = _without_blocking(fifo, lambda: CliRunner().invoke(cli.main, ["bundle", "import", str(fifo)]))
    assert out.exit_code == 2, out.output
    assert out.stderr == f"qtui: {fifo}: is a FIFO, not a bundle file\n"
    out = CliRunner().invoke(cli.main, ["bundle", "import", str(tmp_path / "missing.tar.gz")])
    assert out.exit_code == 2 and out.stderr == f"qtui: {tmp_path / 'missing.tar.gz'}: no such bundle file\n"



def test_a_bundle_file_swapped_for_a_fifo_after_its_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path is a regular file when looked at and a FIFO when opened (swapped in between):
    the check holds on what was opened, so the import neither blocks nor reads the FIFO."""
    import os

    from qtui.core.bundle import BundleError, import_bundle

    fifo = tmp_path / "b.tar.gz"
    os.mkfifo(fifo)
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    real_stat = os.stat

    def swapped(path: object, *args: object, **kwargs: object) -> os.stat_result:
        # the first look at the bundle sees a regular file: what the path was before the swap
        if str(path) == str(fifo) and not swapped.seen:  # type: ignore[attr-defined]
            swapped.seen = True  # type: ignore[attr-defined]
            return real_stat(regular)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    swapped.seen = False  # type: ignore[attr-defined]
    monkeypatch.setattr(os, "stat", swapped)
    [err] = _without_blocking(fifo, lambda: import_bundle(fifo))
    assert isinstance(err, BundleError), err
    assert str(err) == f"{fifo}: is a FIFO, not a bundle file"

# -- items 15 and 18: impossible figures and oversized histograms in result files ---------------------

def _result_dict(run_id: str, precision: str = "fp32", **changes: Any) -> dict[str, Any]:
    from tests.ui.conftest import fake_result

    data = fake_result(run_id, "2026-01-02T11:00:00+00:00", precision, p90=5.0).to_dict()
    for dotted, value in changes.items():
        table, key = dotted.split("__") if "__" in dotted else (dotted, None)
        if key is None:
            data[table] = value
        else:
            data.setdefault(table, {})
            data[table] = {**(data[table] or {}), key: value}
    return data


def _write_result(root: Path, data: dict[str, Any]) -> Path:
    import json

    path = root / data["run_id"] / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"throughput__samples_per_s": 10**300}, "throughput.samples_per_s"),
        ({"throughput__samples_per_s": 1e-300}, "throughput.samples_per_s"),
        ({"latency_ms__p90": -3.0}, "latency_ms.p90"),
        ({"accuracy": {"top1": -5.0}}, "accuracy.top1"),
        ({"accuracy": {"fidelity": {"sqnr_db": float("-inf")}}}, "accuracy.fidelity.sqnr_db"),
        ({"accuracy": {"fidelity": {"cosine": 7.0}}}, "accuracy.fidelity.cosine"),
        ({"histogram__edges_ms": [-1.0] * 17}, "histogram.edges_ms"),
        ({"memory": {"peak_rss_bytes": 1e300}}, "memory.peak_rss_bytes"),
    ],
)
def test_an_impossible_figure_skips_the_result_with_a_warning(tmp_path: Path, changes: dict[str, Any], field: str) -> None:
    from qtui.core.results import load_results

    path = _write_result(tmp_path, _result_dict("bad", **changes))
    _write_result(tmp_path, _result_dict("good"))
    said: list[str] = []
    loaded = load_results(tmp_path, said.append)
    assert [r.run_id for r in loaded] == ["good"]
    assert len(said) == 1 and said[0].startswith(f"warning: skipping damaged result {path}: '{field}' ")
    assert "is impossible (it lies from" in said[0] and len(said[0]) < 300


def test_possible_extremes_still_load(tmp_path: Path) -> None:
    from qtui.core.results import load_results

    data = _result_dict(
        "edge", latency_ms__p90=0.0, throughput__samples_per_s=0,
        accuracy={"top1": 1.0, "top5": 0.0, "fidelity": {"sqnr_db": float("inf"), "cosine": -1.0}},
    )
    _write_result(tmp_path, data)
    said: list[str] = []
    assert [r.run_id for r in load_results(tmp_path, said.append)] == ["edge"] and said == []


def test_no_infinite_speedup_and_no_infinity_in_json(tmp_path: Path) -> None:
    import json

    from qtui.core.results import load_results, speedup

    base = _result_dict("fp32", "fp32", latency_ms__p90=1e8)
    fast = _result_dict("int8", "int8_static", latency_ms__p90=1e-6)
    fast["accuracy"] = {"fidelity": {"sqnr_db": float("inf"), "cosine": 1.0, "centred_top1_agreement": 1.0}}
    for data in (base, fast):
        _write_result(tmp_path, data)
    a, b = sorted(load_results(tmp_path), key=lambda r: r.run_id)
    ratio = speedup(b, a)
    assert ratio is not None and ratio == pytest.approx(1e14)
    for command in (["report", "--format", "json", "--results-dir", str(tmp_path)], ["recommend", "--json", "--results-dir", str(tmp_path)]):
        out = CliRunner().invoke(cli.main, command)
        assert "Infinity" not in out.stdout and "NaN" not in out.stdout, command
        json.loads(out.stdout, parse_constant=lambda c, cmd=command: pytest.fail(f"{cmd} printed {c}"))


def test_a_huge_histogram_is_dropped_with_a_warning(tmp_path: Path) -> None:
    from qtui.core.results import load_results

    bins = 100_000
    edges = [1.0 + i * 1e-3 for i in range(bins + 1)]
    path = _write_result(tmp_path, _result_dict("hist", histogram={"edges_ms": edges, "counts": [1] * bins}))
    said: list[str] = []
    [result] = load_results(tmp_path, said.append)
    assert result.histogram == {} and result.metric[1] == 5.0  # the figures are kept
    assert said == [f"warning: {path}: its histogram has 100_000 bins (at most 1_000): not shown"]


# -- item 12: a study's preparation cancels like a run's --------------------------------------------

@pytest.mark.parametrize("sig", ["SIGINT", "SIGHUP"])
def test_a_signal_during_a_study_preparation_cancels_it_like_a_run(tmp_path: Path, sig: str) -> None:
    """The signal lands while the study's preparation is inside one long C++ call (the export
    then stays in torch's forward passes for minutes). Before, the study waited for the whole
    call (a calibration: about a minute); now the call is left to end in the background, as
    `qtui run` does, and the study exits 130 with its staging folder removed."""
    import signal
    import subprocess
    import sys

    from tests.conftest import primed_cache
    from tests.reliability.test_faults import (
        INT8_STATIC,
        ROOT,
        SLOW_EXPORT,
        SMALL,
        _communicate,
        _env,
        _staging_left,
        _wait_for_line,
    )

    cache, results = primed_cache(tmp_path / "cache"), tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_EXPORT, "study", "quick", *SMALL, *INT8_STATIC, "--results-dir", str(results)],
        cwd=ROOT, env=_env(cache, results), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        seen = _wait_for_line(proc, "inside a long C++ step")
        proc.send_signal(getattr(signal, sig))
        _, stderr = _communicate(proc, timeout=150)  # the slow step alone lasts minutes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    stderr = seen + stderr
    assert "ends in the background" in stderr, stderr  # the cancel left the long call
    assert proc.returncode == 130, stderr
    assert "terminate called" not in stderr and "Traceback" not in stderr, stderr
    assert "study interrupted: run the same command again" in stderr
    if sig == "SIGHUP":  # the promise printed is one that holds: a second SIGHUP counts once
        assert "SIGHUP received: cancelling the study (SIGINT or SIGTERM to exit at once)" in stderr
    assert _staging_left(cache) == []
    assert not list(results.glob("*/result.json"))


def test_the_html_report_of_extreme_figures_raises_no_numeric_warning(tmp_path: Path) -> None:
    """Before, a 301-digit samples/s beside a tiny one loaded, and numpy/matplotlib printed
    overflow warnings (with their source paths) while the report was drawn. Now the impossible
    ones are skipped and the possible extremes draw quietly."""
    import warnings

    results = tmp_path / "results"
    datas = [
        _result_dict("huge", "fp32", throughput__samples_per_s=10**300),
        _result_dict("tiny", "int8_static", throughput__samples_per_s=1e-300),
        _result_dict("slow", "fp32", latency_ms__p90=1e8, throughput__samples_per_s=1e9),
        _result_dict("fast", "int8_dynamic", latency_ms__p90=1e-6, throughput__samples_per_s=1e-6),
    ]
    datas[0]["profile"]["scenario"] = datas[1]["profile"]["scenario"] = "Offline"
    for data in datas:
        _write_result(results, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = CliRunner().invoke(
            cli.main, ["report", "--format", "html", "--results-dir", str(results), "-o", str(tmp_path / "r.html")]
        )
    assert out.exit_code == 0, out.output
    assert [str(w.message) for w in caught] == []
    assert out.stderr.count("skipping damaged result") == 2 and "is impossible" in out.stderr


def test_a_look_alike_saved_profile_name_is_flagged_in_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import profile_store
    from qtui.ui.screens.dialogs import LoadedProfile, _profile_label

    monkeypatch.setenv("QTUI_CONFIG_DIR", str(tmp_path / "config"))
    saved = prof.save(prof.RunProfile(name="q\u0456ck"), profile_store.saved_dir() / "qu\u0456ck.toml")
    assert profile_store.name_note("quick") is None
    assert profile_store.name_note(saved.stem) == (
        "the name holds a non-ASCII character, U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I at position 3"
    )
    assert _profile_label(LoadedProfile(saved, prof.load(saved)), 10).plain.endswith("(non-ASCII name)")
    shipped = profile_store.shipped_dir() / "quick.toml"
    assert "non-ASCII" not in _profile_label(LoadedProfile(shipped, prof.load(shipped)), 10).plain
    # the CLI's list of known names shows it escaped, distinct from the shipped one
    out = CliRunner().invoke(cli.main, ["run", "nosuch"])
    assert "qu\\u0456ck" in out.stderr and ", quick," in out.stderr
