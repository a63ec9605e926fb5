"""One table of models (qtui.core.model_table) and one of precision and scenario labels
(qtui.core.labels): every view draws its names from them, and no hand-written map remains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog, frameworks, labels, model_table, models, ops, profile
from qtui.core.models import weights
from qtui.core.recommend import recommend, recommendations_text
from qtui.core.report_html import render_html
from qtui.core.study_tables import study_markdown
from tests.core.test_study_table import make_run, save_all

QTUI = Path(__file__).resolve().parents[2] / "qtui"


def test_every_list_of_models_is_the_table() -> None:
    ids = tuple(m.id for m in model_table.TABLE)
    assert profile.MODELS == ids == models.MODEL_NAMES == tuple(catalog.MODEL_TITLES)
    assert catalog.MODEL_TITLES == models.MODEL_TITLES == {m.id: m.title for m in model_table.TABLE}
    assert weights.TORCHVISION_URLS == {m.id: m.checkpoint_url for m in model_table.TABLE}
    assert ops.MODEL_MACS == {m.id: m.macs for m in model_table.TABLE}
    assert profile.PRECISIONS == labels.PRECISIONS == tuple(catalog.PRECISION_TITLES)
    assert profile.SCENARIOS == labels.SCENARIOS == tuple(catalog.SCENARIO_TITLES)
    assert len(set(ids)) == len(ids)
    assert len({m.title for m in model_table.TABLE}) == len({m.short for m in model_table.TABLE}) == len(ids)


@pytest.mark.parametrize("row", model_table.TABLE, ids=lambda r: r.id)
def test_checkpoint_file_name_carries_its_sha256_prefix(row: model_table.ModelInfo) -> None:
    """torch.hub's check_hash takes the expected sha256 prefix from the file name (HASH_REGEX):
    the table's prefix is the one torch verifies the download against."""
    torch_hub = pytest.importorskip("torch.hub")
    name = row.checkpoint_url.rsplit("/", 1)[1]
    assert row.checkpoint_url.startswith("https://download.pytorch.org/models/")
    assert name == f"{row.torchvision_builder}-{row.checkpoint_sha256}.pth"
    found = torch_hub.HASH_REGEX.search(name)
    assert found is not None and found.group(1) == row.checkpoint_sha256


def test_unknown_values_are_drawn_as_they_are() -> None:
    for fn in (labels.title, labels.short, labels.narrow, model_table.title, model_table.short):
        assert fn("an_old_model") == "an_old_model"
    with pytest.raises(KeyError, match="known: mobilenet_v2"):
        model_table.info("nope")


def test_labels_per_kind() -> None:
    assert [labels.title(p) for p in labels.PRECISIONS] == ["FP32", "FP16", "INT8 dynamic", "INT8 static"]
    assert [labels.short(p) for p in labels.PRECISIONS] == ["FP32", "FP16", "INT8d", "INT8s"]
    assert [labels.grid(p) for p in labels.PRECISIONS] == ["FP32", "FP16", "INT8 dyn", "INT8 static"]
    assert [labels.narrow(s) for s in labels.SCENARIOS] == ["SS", "MS", "Off"]
    assert [labels.short(s) for s in labels.SCENARIOS] == ["Single", "Multi", "Offline"]
    for f in frameworks.TABLE:
        assert (labels.title(f.id), labels.short(f.id), labels.narrow(f.id)) == (f.title, f.short, f.narrow)
    for m in model_table.TABLE:
        assert (labels.title(m.id), labels.short(m.id), labels.narrow(m.id)) == (m.title, m.title, m.short)


def _words(row: object) -> set[str]:
    return {getattr(row, k) for k in ("title", "short", "narrow", "grid") if getattr(row, k, "")}


def test_no_hand_written_map_of_names_outside_the_tables() -> None:
    """A quoted model title or label, or a precision's or scenario's label that is not its own id,
    appears in qtui's code only in the tables (docstrings and comments may name them)."""
    words = set()
    for m in model_table.TABLE:
        words |= {m.title, m.short}
    for row in (*labels.PRECISION_TABLE, *labels.SCENARIO_TABLE):
        words |= _words(row) - {row.id, row.id.upper()}
    tables = {QTUI / "core" / "model_table.py", QTUI / "core" / "labels.py"}
    found = []
    for path in QTUI.rglob("*.py"):
        if path in tables:
            continue
        text = path.read_text()
        for word in words:
            if re.search(rf"""["']{re.escape(word)}["']\s*[,:}}]""", text):
                found.append(f"{path.relative_to(QTUI)}: {word!r}")
    assert not found, found


@pytest.fixture
def every_model_studied(tmp_path: Path) -> Path:
    """FP32 and INT8 static SingleStream runs of every built-in model, saved in a results folder."""
    root = tmp_path / "every-model"
    runs = []
    for m in model_table.TABLE:
        runs += [
            make_run(f"{m.id}-fp32", "fp32", 20.0, model=m.id),
            make_run(f"{m.id}-int8", "int8_static", 8.0, model=m.id),
        ]
    save_all(root, runs)
    return root


@pytest.mark.parametrize("columns", [150, 80])
def test_the_cli_table_draws_the_table_words(every_model_studied: Path, columns: int) -> None:
    out = CliRunner().invoke(
        cli.main, ["report", "--results-dir", str(every_model_studied)], env={"COLUMNS": str(columns)}
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    # the richest words that fit: titles at 150 columns, the narrow labels at 80
    word = labels.title if columns > 100 else labels.narrow
    for m in model_table.TABLE:
        expected = m.title if columns > 100 else m.short
        mine = [line for line in lines if line.split()[:1] == [expected]]
        assert len(mine) == 2, (expected, out.output)
        assert any(word("int8_static") in line for line in mine)
        assert all(word("SingleStream") in line for line in mine)


def test_study_report_html_and_recommend_draw_the_titles(every_model_studied: Path) -> None:
    from qtui.core.results import load_results_dirs

    results = load_results_dirs([every_model_studied])
    markdown = study_markdown(results)
    html = render_html(results, charts=False)
    advice = recommendations_text(recommend(results, unavailable=lambda f, p: None))
    for m in model_table.TABLE:
        heading = f"{m.title} · SingleStream"
        assert heading in markdown
        assert heading in html
        assert m.title in advice
    for text in (markdown, html):
        assert labels.short("int8_static") in text
