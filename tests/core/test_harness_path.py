"""qtui's own per-query path, without a runtime: the sample library hands out slices instead of
copies, an Offline query is batched in memory order (every completion still maps to its sample,
logits included), a MultiStream query is a slice of the library laid out in LoadGen's load order
(else gathered into one reused buffer), and the recorder's snapshots cost what arrived since the
last one, not the whole run."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from qtui.core import latency
from qtui.core.latency import LatencyRecorder, exact_percentiles, histogram
from qtui.core.loadgen import SampleLibrary, Sut


def _sample(i: int) -> np.ndarray:
    """A small distinct sample: every value equals its index."""
    return np.full((3, 4, 4), float(i), dtype=np.float32)


def _library(n: int = 64, total: int | None = None) -> SampleLibrary:
    qsl = SampleLibrary(_sample, total or n, n)
    qsl.preload(range(n))
    return qsl


@dataclass
class _QuerySample:
    id: int
    index: int


class _FakeLoadGen:
    """Stands in for mlperf_loadgen's completion calls (completing an unknown id outside a real
    run would crash the process)."""

    def __init__(self) -> None:
        self.completed: list[int] = []

    @staticmethod
    def QuerySampleResponse(qid: int, addr: int, size: int) -> tuple[int, int, int]:  # noqa: N802
        return (qid, addr, size)

    def QuerySamplesComplete(self, responses: list[tuple[int, int, int]]) -> None:  # noqa: N802
        self.completed.extend(r[0] for r in responses)


def _sut(qsl: SampleLibrary, scenario: str, accuracy: bool = False, batch: int = 8) -> tuple[Sut, list[np.ndarray], _FakeLoadGen]:
    seen: list[np.ndarray] = []

    def predict(x: np.ndarray) -> np.ndarray:
        seen.append(x)
        # logits: one row per sample, the sample's index in column 0
        out = np.zeros((x.shape[0], 10), np.float32)
        out[:, 0] = x[:, 0, 0, 0]
        return out

    def predict_stream(batches: Any, on_result: Any) -> None:
        for key, x in batches:
            on_result(key, predict(x))

    sut = Sut(predict, predict_stream, qsl, LatencyRecorder(), scenario, accuracy, batch)
    fake = _FakeLoadGen()
    sut._lg = fake
    return sut, seen, fake


def test_consecutive_samples_are_a_view_and_others_are_gathered() -> None:
    qsl = _library(32)
    one = qsl.batch([5])
    run = qsl.batch([8, 9, 10, 11])
    assert one.shape == (1, 3, 4, 4) and float(one[0, 0, 0, 0]) == 5.0
    assert np.shares_memory(one, run) is False
    assert np.shares_memory(run, qsl.batch(list(range(32))))  # a slice of the same memory
    assert [float(v) for v in run[:, 0, 0, 0]] == [8, 9, 10, 11]
    scattered = qsl.batch([3, 17, 4])
    assert [float(v) for v in scattered[:, 0, 0, 0]] == [3, 17, 4]
    assert not np.shares_memory(scattered, qsl.batch(list(range(32))))
    buffer = qsl.gather_buffer(8)
    into = qsl.batch([30, 1, 2], out=buffer)
    assert np.shares_memory(into, buffer) and [float(v) for v in into[:, 0, 0, 0]] == [30, 1, 2]


def test_samples_loaded_later_by_loadgen_are_served_too() -> None:
    qsl = _library(8, total=20)
    qsl.load([12, 13, 14, 3])  # 3 is already there
    assert [float(v) for v in qsl.batch([12, 13, 14])[:, 0, 0, 0]] == [12, 13, 14]
    assert [float(v) for v in qsl.batch([7, 12])[:, 0, 0, 0]] == [7, 12]  # across two chunks
    assert [float(v) for v in qsl.batch([3])[:, 0, 0, 0]] == [3]


def test_offline_plan_turns_loadgen_permutations_into_slices() -> None:
    """LoadGen's Offline query: each loaded sample the same number of times, shuffled. The plan
    covers every position once and every batch is consecutive memory (a view, no copy)."""
    qsl = _library(64)
    rng = np.random.default_rng(0)
    indices = np.concatenate([rng.permutation(64) for _ in range(5)]).tolist()
    plan = qsl.offline_plan(indices, 8)
    assert sorted(p for batch in plan for p in batch) == list(range(len(indices)))
    assert all(len(b) == 8 for b in plan)
    whole = qsl.batch(list(range(64)))
    for positions in plan:
        batch = qsl.batch([indices[p] for p in positions])
        assert np.shares_memory(batch, whole)


def test_offline_plan_keeps_what_cannot_be_a_slice() -> None:
    qsl = _library(64)
    indices = [0, 1, 2, 40, 41, 9, 9, 9, 63]
    plan = qsl.offline_plan(indices, 4)
    assert sorted(p for batch in plan for p in batch) == list(range(len(indices)))
    assert all(0 < len(b) <= 4 for b in plan)
    assert qsl.offline_plan([], 4) == []


@pytest.mark.parametrize("accuracy", [False, True])
def test_offline_reordered_batches_complete_every_sample_with_its_own_logits(accuracy: bool) -> None:
    qsl = _library(64)
    sut, seen, fake = _sut(qsl, "Offline", accuracy=accuracy, batch=8)
    rng = np.random.default_rng(1)
    order = np.concatenate([rng.permutation(64) for _ in range(3)]).tolist()
    samples = [_QuerySample(id=1000 + k, index=i) for k, i in enumerate(order)]
    sut.issue_queries(samples)
    assert sut.state.error is None
    assert sorted(fake.completed) == [s.id for s in samples]
    assert sut.pending_count == 0
    assert sut.recorder.counts == (len(samples) // 8, len(samples))
    whole = qsl.batch(list(range(64)))
    assert all(np.shares_memory(x, whole) for x in seen)  # no batch was copied
    if accuracy:
        assert sorted(sut.state.logits) == list(range(64))
        assert all(float(row[0]) == float(i) for i, row in sut.state.logits.items())


def test_multistream_gathers_into_one_reused_buffer() -> None:
    qsl = _library(64)
    sut, seen, fake = _sut(qsl, "MultiStream", accuracy=True)
    queries = [[5, 40, 2, 33, 7, 8, 60, 1], [11, 3, 50, 12, 9, 0, 47, 21]]
    for q, indices in enumerate(queries):
        sut.issue_queries([_QuerySample(id=10 * q + k, index=i) for k, i in enumerate(indices)])
    assert sut.state.error is None and len(fake.completed) == 16
    assert seen[0] is not seen[1] and np.shares_memory(seen[0], seen[1])  # same buffer
    assert all(float(sut.state.logits[i][0]) == float(i) for q in queries for i in q)


def test_singlestream_predicts_a_view_of_the_sample() -> None:
    qsl = _library(16)
    sut, seen, fake = _sut(qsl, "SingleStream")
    sut.issue_queries([_QuerySample(id=7, index=9)])
    assert fake.completed == [7]
    assert np.shares_memory(seen[0], qsl.batch(list(range(16)))) and float(seen[0][0, 0, 0, 0]) == 9.0
    assert sut.recorder.counts == (1, 1)


def test_cancelled_offline_query_still_completes_every_id_once() -> None:
    qsl = _library(64)
    sut, _, fake = _sut(qsl, "Offline", batch=8)
    calls = {"n": 0}
    inner = sut.predict_stream

    def stream(batches: Any, on_result: Any) -> None:
        def counted() -> Any:
            for item in batches:
                calls["n"] += 1
                if calls["n"] == 3:
                    sut.drain()  # cancel mid-query: the rest is completed by the drain
                yield item

        inner(counted(), on_result)

    sut.predict_stream = stream
    samples = [_QuerySample(id=k, index=k % 64) for k in range(128)]
    sut.issue_queries(samples)
    assert sorted(fake.completed) == list(range(128))  # each id exactly once
    assert calls["n"] == 3


def test_snapshot_costs_what_arrived_since_the_last_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reporter used to sort every latency of the run 4× a second while the run went on."""
    sizes: list[int] = []
    real = latency._fine_bins

    def spy(values: np.ndarray) -> np.ndarray:
        sizes.append(int(values.size))
        return real(values)

    monkeypatch.setattr(latency, "_fine_bins", spy)
    monkeypatch.setattr(latency, "exact_percentiles", None)  # must not be used by snapshots
    monkeypatch.setattr(latency, "histogram", None)
    rec = LatencyRecorder()
    for i in range(10_000):
        rec.record(1_000_000 + i)
    rec.snapshot()
    for i in range(5):
        rec.record(2_000_000 + i)
    rec.snapshot()
    rec.snapshot()
    assert sizes == [10_000, 5]


def test_snapshot_matches_the_exact_figures() -> None:
    rng = np.random.default_rng(2)
    data = (rng.lognormal(0.7, 0.4, 20_000) * 1e6).astype(np.int64)
    rec = LatencyRecorder()
    for k, v in enumerate(data):
        rec.record(int(v), 2)
        if k == 7000:
            rec.snapshot()
    snap = rec.snapshot()
    exact = exact_percentiles(data)
    assert snap.queries == 20_000 and snap.samples == 40_000
    for key, value in exact.items():
        assert snap.percentiles_ms[key] == pytest.approx(value, rel=0.003), key
    display = histogram(data)
    assert snap.histogram.edges_ms == display.edges_ms
    assert sum(snap.histogram.counts) == 20_000
    assert np.abs(np.array(snap.histogram.counts) - np.array(display.counts)).max() <= 0.01 * 20_000
    assert snap.min_ms == data.min() / 1e6 and snap.max_ms == data.max() / 1e6
    assert snap.mean_ms == pytest.approx(data.mean() / 1e6)
    assert rec.array().tolist() == data.tolist()


def test_recorder_reset_and_concurrent_snapshots() -> None:
    rec = LatencyRecorder()
    stop = threading.Event()
    seen: list[int] = []

    def reporter() -> None:
        while not stop.is_set():
            seen.append(rec.snapshot().queries)

    t = threading.Thread(target=reporter)
    t.start()
    for i in range(20_000):
        rec.record(1000 + i)
    stop.set()
    t.join()
    assert rec.snapshot().queries == 20_000 and seen == sorted(seen)
    rec.reset()
    assert rec.snapshot().queries == 0 and rec.array().size == 0


def test_loadgen_runs_with_a_short_gil_switch_interval_and_restores_it(tmp_path: Any) -> None:
    """A query that finished computing waits for the GIL at most the switch interval while
    another thread runs Python (the UI): 5 ms by default, shortened for the run."""
    import sys

    from qtui.core.loadgen import SWITCH_INTERVAL_S, resolve_settings, run_loadgen
    from tests.conftest import small_profile

    seen: list[float] = []
    qsl = _library(16)

    def predict(x: np.ndarray) -> np.ndarray:
        seen.append(sys.getswitchinterval())
        return np.zeros((x.shape[0], 10), np.float32)

    sut = Sut(predict, lambda b, f: None, qsl, LatencyRecorder(), "SingleStream", False, 1)
    settings = resolve_settings(small_profile(), 16, 0.0001)
    before = sys.getswitchinterval()
    run_loadgen(sut, qsl, settings, tmp_path / "log")
    assert seen and all(v <= SWITCH_INTERVAL_S for v in seen)
    assert sys.getswitchinterval() == before
    assert sut.recorder.counts[0] == len(seen) and sut.pending_count == 0


def test_openvino_offline_stream_leaves_nothing_alive() -> None:
    """The async queue (C++) kept the run's callback, and through it the SUT, its samples and
    the backend: a cycle the GC cannot see, so every OpenVINO Offline run leaked its compiled
    model and loaded samples."""
    import gc
    import weakref

    ov = pytest.importorskip("openvino")
    from openvino import opset13 as ops

    from qtui.core.backends.openvino_backend import OpenVinoBackend, core

    param = ops.parameter([-1, 4], np.float32)
    model = ov.Model([ops.relu(param)], [param])
    backend = OpenVinoBackend()
    backend._compiled = core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1})
    backend._jobs = 2

    class Holder:  # stands for the SUT the callback reaches
        def __init__(self, owner: Any) -> None:
            self.backend = owner
            self.results: list[np.ndarray] = []

        def on_result(self, key: int, y: np.ndarray) -> None:
            self.results.append(y)

    holder = Holder(backend)
    backend.predict_stream(iter([(k, np.full((2, 4), k, np.float32)) for k in range(4)]), holder.on_result)
    assert len(holder.results) == 4
    alive = weakref.ref(holder)
    del holder, backend
    gc.collect()
    assert alive() is None


def _loadgen_order(n: int, spq: int, seed: int = 0) -> list[int]:
    """What LoadGen 6's `load` asks for before a MultiStream run: the performance set shuffled,
    then its first spq - 1 entries again (measured with a no-op SUT)."""
    order = list(np.random.default_rng(seed).permutation(n))
    return [int(i) for i in order + order[: spq - 1]]


def test_multistream_windows_of_loadgen_order_are_views() -> None:
    """A MultiStream query is a window of LoadGen's load order: once `load` has arranged the
    preloaded chunk in that order (in place, with spare rows for the repeated entries), every
    window — including those running into the repeats — is a slice of memory, not a gathered
    copy of 8 images, and holds the right samples."""
    n, spq = 40, 8
    qsl = SampleLibrary(_sample, n, n, spare_rows=spq - 1)
    qsl.preload(range(n))
    whole = qsl.batch(list(range(n)))  # preloaded order: a view of the chunk
    order = _loadgen_order(n, spq)
    qsl.load(order)
    for start in range(len(order) - spq + 1):
        window = order[start : start + spq]
        got = qsl.batch(window)
        assert [float(v) for v in got[:, 0, 0, 0]] == window
        assert np.shares_memory(got, whole), f"window at {start} was copied"
    # single samples and scattered queries still give the right samples
    for i in (0, 7, n - 1):
        assert float(qsl.batch([i])[0, 0, 0, 0]) == i
    scattered = [order[3], order[20], order[9]]
    assert [float(v) for v in qsl.batch(scattered)[:, 0, 0, 0]] == scattered


def test_load_order_that_does_not_match_keeps_the_library() -> None:
    """LoadGen's accuracy mode loads parts of the data set: those are not rearranged (nothing
    moves), and samples not held yet are added."""
    qsl = SampleLibrary(_sample, 64, 16)
    qsl.preload(range(32))
    qsl.load(list(range(31, -1, -1)))  # every sample, reversed, no spare rows (not MultiStream): unmoved
    assert float(qsl.batch([0])[0, 0, 0, 0]) == 0.0 and qsl._row_ids[0][:3] == [0, 1, 2]
    qsl.load([5, 3, 1])  # a subset: left as it is
    assert np.shares_memory(qsl.batch([0, 1, 2, 3]), qsl.batch(list(range(32))))
    qsl.load([40, 41])
    assert [float(v) for v in qsl.batch([40, 41])[:, 0, 0, 0]] == [40, 41]
    assert [float(v) for v in qsl.batch([3, 40])[:, 0, 0, 0]] == [3, 40]


def test_real_loadgen_multistream_queries_are_not_gathered() -> None:
    """Through a real LoadGen MultiStream run: every query the SUT predicts is a view of the
    library (LoadGen's load order was measured to make each query a window of it)."""
    import tempfile
    from pathlib import Path

    from qtui.core.loadgen import run_loadgen

    n, spq = 48, 8
    qsl = SampleLibrary(_sample, n, n, spare_rows=spq - 1)
    qsl.preload(range(n))
    whole = qsl._chunks[0]
    copies: list[int] = []
    batches: list[list[float]] = []

    def predict(x: np.ndarray) -> np.ndarray:
        if not np.shares_memory(x, whole):
            copies.append(x.shape[0])
        batches.append([float(v) for v in x[:, 0, 0, 0]])
        out = np.zeros((x.shape[0], 10), np.float32)
        return out

    sut = Sut(predict, lambda b, r: None, qsl, LatencyRecorder(), "MultiStream", False, 8)
    settings = {
        "scenario": "MultiStream", "mode": "performance", "min_duration_ms": 0, "max_duration_ms": 0,
        "min_query_count": 50, "expected_latency_ms": 1.0, "expected_qps": 1000.0,
        "samples_per_query": spq, "target_latency_percentile": 99.0, "performance_sample_count": n,
    }
    with tempfile.TemporaryDirectory() as d:
        run_loadgen(sut, qsl, settings, Path(d))
    assert len(batches) >= 50 and all(len(b) == spq for b in batches)
    assert copies == [], f"{len(copies)} of {len(batches)} queries were gathered"
