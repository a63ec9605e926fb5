"""Bundle manifests naming a user model (`onnx:net.onnx`, `tflite:net.tflite`,
`entry:pkg.mod:build`): honest ones import; a folder or another kind in the name, weights that
are not the file's digest, or a cell that kind of source cannot fill are refused with one line
naming the field (exit 2 from `qtui bundle import`), and nothing is written.

Crafted like tests/reliability/test_bundles.py (no torch, no framework)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core import bundle
from qtui.core.artifacts import list_artifacts
from tests.reliability.test_bundles import (
    folder,
    good_bundle,
    good_manifest,
    good_meta,
    reg,
    snapshot,
    write_bundle,
)
from tests.reliability.test_bundles import home as _home

home = _home  # the fixture: tmp_path/cache is the cache, bundles go in tmp_path/bundles

DIGEST = "ab" * 32
USER = {
    "onnx": {"model": "onnx:my net.onnx", "weights": f"onnx-file:{DIGEST}"},
    "tflite": {"model": "tflite:net.tflite", "weights": f"tflite-file:{DIGEST}", "framework": "tflite", "file": "model.tflite"},
    "entry": {"model": "entry:mypkg.nets:build", "weights": f"entry:{DIGEST}:factory:seed=0", "framework": "torch", "file": "model.pt"},
    "entry-file": {"model": "entry:net.py:build", "weights": f"entry:{DIGEST}:file:{DIGEST}", "precision": "int8_static", "calibration": "synthetic:seed=0:n=32|n=16|77494c8a98c9"},
}


def test_honest_user_model_manifests_import(home: Path) -> None:
    metas = [good_meta(**changes) for changes in USER.values()]
    imported = bundle.import_bundle(good_bundle(home / "bundles" / "b.tar.gz", *metas))
    assert [i.status for i in imported] == ["imported"] * len(USER)
    assert sorted(a.meta["model"] for a in list_artifacts()) == sorted(c["model"] for c in USER.values())
    assert "onnx:my net.onnx onnxruntime fp32, weights onnx-file:" in imported[0].description


HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "onnx-with-folder": ({**USER["onnx"], "model": "onnx:/home/me/net.onnx"}, r"\.model must be a built-in name or onnx:<file name>\.onnx"),
    "onnx-dotdot": ({**USER["onnx"], "model": "onnx:../net.onnx"}, r"\.model must be a built-in name or onnx:"),
    "onnx-backslash": ({**USER["onnx"], "model": "onnx:C:\\Users\\me\\net.onnx"}, r"\.model must be a built-in name or onnx:"),
    "onnx-escape-codes": ({**USER["onnx"], "model": "onnx:\x1b]0;pwned\x07.onnx"}, r"\.model must be a built-in name or onnx:"),
    "onnx-naming-a-tflite": ({**USER["onnx"], "model": "onnx:net.tflite"}, r"\.model must be a built-in name or onnx:"),
    "onnx-naming-a-builtin": ({**USER["onnx"], "model": "onnx:vgg19"}, r"\.model must be a built-in name or onnx:"),
    "onnx-empty-name": ({**USER["onnx"], "model": "onnx:"}, r"\.model must be a built-in name or onnx:"),
    "entry-with-folder": ({**USER["entry"], "model": "entry:src/net.py:build"}, r"\.model must be a built-in name or entry:<module>:<factory>"),
    "entry-not-an-entry": ({**USER["entry"], "model": "entry:os.system('x')"}, r"\.model must be a built-in name or entry:"),
    "unknown-kind": ({**USER["onnx"], "model": "pickle:net.pkl"}, r"\.model must be one of mobilenet_v2, "),
    "onnx-weights-not-the-digest": ({**USER["onnx"], "weights": "random:seed=0:v1"}, r"\.weights must be the onnx model's digest"),
    "onnx-weights-a-path": ({**USER["onnx"], "weights": "file:/home/me/net.onnx"}, r"\.weights must be the onnx model's digest"),
    "tflite-weights-of-onnx": ({**USER["tflite"], "weights": f"onnx-file:{DIGEST}"}, r"\.weights must be the tflite model's digest"),
    "entry-weights-short": ({**USER["entry"], "weights": "entry:abc:factory:seed=0"}, r"\.weights must be the entry model's digest"),
    "onnx-in-tflite": ({**USER["onnx"], "framework": "tflite", "file": "model.tflite"}, r"artifacts\[0\] tflite fp32 of 'onnx:my net\.onnx': an ONNX model cannot be converted"),
    "onnx-in-torch": ({**USER["onnx"], "framework": "torch", "file": "model.pt"}, r"torch fp32 of 'onnx:my net\.onnx': PyTorch cannot run an ONNX model"),
    "onnx-openvino-int8-dynamic": ({**USER["onnx"], "framework": "openvino", "precision": "int8_dynamic", "file": "model.xml"}, r"openvino int8_dynamic of .*not offered for an ONNX model"),
    "tflite-in-onnxruntime": ({**USER["tflite"], "framework": "onnxruntime", "file": "model.onnx"}, r"onnxruntime fp32 of 'tflite:net\.tflite': a TFLite model cannot be converted"),
}


def _hostile(base: Path, changes: dict[str, Any]) -> Path:
    """A bundle whose entry has `changes`, its key and spec_id the hashes of its (hostile) spec:
    only the user-model rules can refuse it."""
    meta = good_meta(**changes)
    key = meta["key"]
    members = [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/{meta['file']}")]
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), members)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_user_model_manifest_exits_2_and_writes_nothing(home: Path, case: str) -> None:
    changes, message = HOSTILE[case]
    path = _hostile(home, changes)
    before = snapshot(home)
    with pytest.raises(bundle.BundleError, match=message) as err:
        bundle.import_bundle(path)
    assert "\n" not in str(err.value) and "\x1b" not in str(err.value) and "\x07" not in str(err.value)
    result = CliRunner().invoke(main, ["bundle", "import", str(path)])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"qtui: {path}"), result.stderr
    assert snapshot(home) == before and list_artifacts() == []


def test_export_by_entry_point_takes_that_codes_artifacts_only(home: Path) -> None:
    """`bundle export --model path/net.py:build` takes the artifacts of that code (its sha256),
    not those of another net.py:build; the entry point's code is only read, never run."""
    import json

    from qtui.core.artifacts import artifacts_root
    from qtui.core.model_source_entry import locate, source_digest

    code = home / "src" / "net.py"
    code.parent.mkdir()
    code.write_text("raise SystemExit('never imported')\n")
    mine = source_digest(locate(f"{code}:build"))
    for digest in (mine, "cd" * 32):
        meta = good_meta(model="entry:net.py:build", weights=f"entry:{digest}:factory:seed=0")
        folder_path = artifacts_root() / meta["key"]
        folder_path.mkdir()
        (folder_path / "model.onnx").write_bytes(b"model bytes")
        (folder_path / "meta.json").write_text(json.dumps(meta))
    out = home / "bundles" / "e.tar.gz"
    done = CliRunner().invoke(main, ["bundle", "export", str(out), "--model", f"{code}:build"])
    assert done.exit_code == 0, done.output
    assert "wrote 1 artifact" in done.output and str(home) not in done.output.replace(str(out), "")
    imported = bundle.import_bundle(out)  # into the same cache: the same bytes
    assert [i.status for i in imported] == ["already present"] and f"weights entry:{mine}:" in imported[0].description
