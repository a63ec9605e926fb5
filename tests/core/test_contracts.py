"""Every framework in the framework table keeps the declared contracts: its prepare module is a
`Preparer`, its backend a `Backend`; and adding a framework means one row, one prepare module,
one backend module and one extra (every reader goes through the table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from qtui.core import catalog, frameworks, profile
from qtui.core.backends import Backend, get_backend
from qtui.core.prepare import prepare_module
from qtui.core.prepare.contract import Preparer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("framework", frameworks.IDS)
def test_prepare_module_keeps_the_contract(framework: str) -> None:
    module = prepare_module(framework)
    assert isinstance(module, Preparer)
    assert set(module.PRECISION_NOTES) == set(profile.PRECISIONS)
    for precision in profile.PRECISIONS:
        reason = module.runtime_unavailable_reason(precision)
        assert reason is None or (isinstance(reason, str) and reason)


@pytest.mark.parametrize("framework", [f for f in frameworks.IDS if catalog.framework_installed(f)])
def test_backend_keeps_the_contract(framework: str) -> None:
    assert isinstance(get_backend(framework), Backend)


def test_every_reader_takes_the_table() -> None:
    assert profile.FRAMEWORKS == frameworks.IDS
    assert catalog.FRAMEWORK_TITLES == {f.id: f.title for f in frameworks.TABLE}
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for row in frameworks.TABLE:
        assert row.extra in extras, f"pyproject.toml has no '{row.extra}' extra"
        assert catalog.install_hint(row.id) == f"pip install 'qtui[{row.extra}]'"


def test_a_module_missing_part_of_the_contract_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from qtui.core.prepare import PrepareError

    broken = types.ModuleType("qtui_fake_prepare")
    broken.PRECISION_NOTES = {}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "qtui_fake_prepare", broken)
    row = frameworks.FrameworkInfo(
        id="fake", title="Fake", short="F", narrow="F", extra="fake", runtime_modules=(),
        distributions=(), prepare_module="qtui_fake_prepare", backend_module="qtui_fake_backend",
    )
    monkeypatch.setattr(frameworks, "_BY_ID", {**frameworks._BY_ID, "fake": row})
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    with pytest.raises(PrepareError, match="does not keep the Preparer contract"):
        prepare_module("fake")
