"""Pipeline: Source → RingBuffer → FilterStage → Windower → MyoSem on a worker thread.

Real sources (simulated armband, replayed recordings, real NinaPro DB1 files), real
checkpoints (MiniLM-encoded prototypes, MyoSem from the shipped configs), a real LSL
marker stream. No timing assertions: where a test waits, it waits for an event.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint
from myostream.preprocess import FilterSpec
from myostream.records import Recording
from myostream.rejection import Rejection, confidence
from myostream.stream.pipeline import HopRanking, Pipeline
from myostream.stream.replay import ReplaySource
from myostream.stream.simulated import SimulatedArmband
from myostream.stream.windows import majority_label
from tests.stream.checkpoints import make_checkpoint, simulated_checkpoint


@pytest.fixture(scope="session")
def sim_model(tmp_path_factory):
    return load_checkpoint(simulated_checkpoint(tmp_path_factory.getbasetemp()))


def wait_for(condition, timeout: float = 30.0) -> None:
    """Wait for an event (not a timing assertion: the timeout only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def collect(pipeline: Pipeline, n: int) -> list[HopRanking]:
    got: list[HopRanking] = []

    def enough() -> bool:
        got.extend(pipeline.queue.drain())
        assert pipeline.error is None, pipeline.error
        return len(got) >= n

    wait_for(enough)
    return got


def simulated_recording(seconds: float = 12.0, seed: int = 3, hold_s: float = 1.0, rest_s: float = 0.5) -> Recording:
    sim = SimulatedArmband(realtime=False, seed=seed, hold_s=hold_s, rest_s=rest_s)
    sim.open()
    chunk = sim.generate(seconds)
    return Recording(
        emg=chunk.data,
        rate=sim.info.rate,
        labels=chunk.labels.astype(np.int16),
        label_names=sim.info.label_names,
        channel_names=sim.info.channel_names,
        subject="sim",
        source="simulated.h5",
    )


def patch_rms(window: np.ndarray, patch: int) -> np.ndarray:
    p = window.reshape(-1, patch, window.shape[1]).astype(np.float64)
    return np.sqrt(((p - p.mean(axis=1, keepdims=True)) ** 2).mean(axis=1))


def test_live_simulator_gives_one_ranking_per_hop(sim_model):
    threads = set(threading.enumerate())
    sim = SimulatedArmband(hold_s=1.0, rest_s=0.5, seed=1)
    model = copy.deepcopy(sim_model)
    model.set_preprocessing(replace(model.preprocessing, filter=FilterSpec(highpass=20, notch=50)))
    pipeline = Pipeline(sim, model, hop_ms=50, device="cpu", top_k=3)
    with pipeline:
        rankings = collect(pipeline, 30)
        stats = pipeline.stats()
    hop = 50  # samples at 1 kHz
    counters = np.array([r.counter for r in rankings])
    assert (np.diff(counters) == hop).all(), "a hop was skipped or repeated"
    assert (np.diff([r.timestamp for r in rankings]) > 0).all()
    ids = sim_model.class_ids
    for r in rankings:
        assert len(r.top) == 3 and [t.score for t in r.top] == sorted((t.score for t in r.top), reverse=True)
        assert r.top[0].score == pytest.approx(float(r.scores.max()), abs=1e-6)
        assert r.top[0].class_id == ids[int(r.scores.argmax())]
        assert r.top[0].label == sim_model.catalog[r.top[0].class_id].label
        assert r.rms.shape == (10, 8) and (r.rms >= 0).all()
        assert r.attention.shape == (4, 10)
        np.testing.assert_allclose(r.attention.sum(axis=1), 1.0, atol=1e-4)
        assert r.true_class in sim.info.label_names
        lat = r.latency
        assert min(lat.wait_ms, lat.filter_ms, lat.model_ms) >= 0 and lat.total_ms >= lat.model_ms
    assert stats.lost == 0 and stats.samples > 0 and stats.rate > 0 and stats.rankings >= 30
    assert stats.latency_p50_ms <= stats.latency_p99_ms and stats.device == "cpu"
    assert set(threading.enumerate()) == threads, "stop() left threads running"


def test_replay_windows_are_exactly_the_recorded_samples(sim_model):
    """No filter: each ranking's RMS is the patch RMS of exactly the recorded window it names."""
    rec = simulated_recording()
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), sim_model, hop_ms=100, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 40)
    n = sim_model.config.window_samples
    for r in rankings:
        window = rec.emg[r.counter - n + 1 : r.counter + 1]
        np.testing.assert_allclose(r.rms, patch_rms(window, sim_model.config.patch), rtol=1e-4, atol=1e-6)
        majority = majority_label(rec.labels[r.counter - n + 1 : r.counter + 1])  # the one window label rule
        assert r.true_class == rec.label_names[majority]
        # EMG -> text scores are z . P_c of that very window
        expected = sim_model.rank(window[None], k=1).all_scores[0].numpy()
        np.testing.assert_allclose(r.scores, expected, atol=1e-5)


def test_the_model_preprocessing_prepares_the_stream(sim_model):
    """Filter and per-user level come from the model: windows are the filtered samples over the wearer's level."""
    from myostream.preprocess import user_scale
    from myostream.stream.filters import FilterStage

    rec = simulated_recording(seconds=12.0)
    spec = FilterSpec(highpass=20.0, notch=50.0)
    filtered = FilterStage(rec.rate, rec.n_channels, spec).process(rec.emg)
    level = user_scale(filtered, rec.rate, "channel")
    model = copy.deepcopy(sim_model)
    model.set_preprocessing(
        replace(model.preprocessing, filter=spec, normalisation="channel", prior_scale=tuple(3.0 * level))
    )  # a population unlike this wearer
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), model, hop_ms=100, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 100)
        norm = pipeline.normaliser
    assert rankings[0].settling and not rankings[-1].settling
    # learnt from the stream: from 3x off to the offline level (per channel it depends on which gestures came first)
    ratio = norm.scale / level
    assert 0.7 < ratio.min() and ratio.max() < 1.4 and abs(ratio.mean() - 1.0) < 0.15, ratio
    n = model.config.window_samples
    last = rankings[-1]
    window = filtered[last.counter - n + 1 : last.counter + 1]
    # the window the model saw: filtered samples over the level in force (a slowly moving one)
    np.testing.assert_allclose(last.rms, patch_rms(window / norm.scale, model.config.patch), rtol=0.05)


def test_smoothing_is_an_exponential_average_over_hops(sim_model):
    rec = simulated_recording(seconds=6.0)
    a = 0.7
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), sim_model, hop_ms=100, smoothing=a, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 20)
    n = sim_model.config.window_samples
    windows = np.stack([rec.emg[r.counter - n + 1 : r.counter + 1] for r in rankings])
    raw = sim_model.rank(windows, k=1).all_scores.numpy()
    smoothed = raw[0]
    for r, s in zip(rankings, raw):
        smoothed = a * smoothed + (1 - a) * s if r is not rankings[0] else s
        np.testing.assert_allclose(r.scores, smoothed, atol=1e-5)
    assert rankings[-1].top[0].class_id == sim_model.class_ids[int(smoothed.argmax())]


def test_text_queries_score_the_window_embedding(sim_model):
    """A class's prototype used as a free-text query scores exactly like that class (text → EMG = EMG → text)."""
    rec = simulated_recording(seconds=4.0)
    protos = dict(zip(sim_model.class_ids, sim_model.prototypes.numpy()))
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), sim_model, hop_ms=100, device="cpu")
    with pytest.raises(MyostreamError, match="Text query embeddings have 3 values but model .* embeds in 256"):
        pipeline.set_text_queries({"bad": np.ones(3)})
    pipeline.set_text_queries({"fist": 3.0 * protos["fist"], "point": protos["point"]})  # any scale: normalised
    with pipeline:
        rankings = collect(pipeline, 10)
    for r in rankings:
        assert set(r.text_scores) == {"fist", "point"}
        for name in ("fist", "point"):
            assert r.text_scores[name] == pytest.approx(float(r.scores[sim_model.class_ids.index(name)]), abs=1e-5)
    pipeline.set_text_queries({})


def with_median_rule(model, rec: Recording, hop: int = 100):
    """A copy of ``model`` whose rejection rule accepts about half of ``rec``'s windows (margin above its median)."""
    n = model.config.window_samples
    windows = np.stack([rec.emg[s : s + n] for s in range(0, len(rec.emg) - n, hop)])
    margins = confidence(model.rank(windows).all_scores.numpy(), "margin")
    strict = copy.deepcopy(model)
    strict.rejection = Rejection("margin", threshold=float(np.median(margins)))
    return strict


def test_rankings_are_marked_confident_by_the_model_rule(sim_model):
    rec = simulated_recording(seconds=8.0)
    model = with_median_rule(sim_model, rec)
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), model, hop_ms=100, device="cpu")
    assert pipeline.rejection is model.rejection
    with pipeline:
        rankings = collect(pipeline, 40)
    for r in rankings:
        assert r.confident == bool(model.rejection.accept(r.scores))
        assert r.confidence == pytest.approx(float(model.rejection.confidence(r.scores)))
    assert {r.confident for r in rankings} == {True, False}
    # a model without a rule (or a pipeline told to show everything) marks every ranking confident
    for pipeline in (
        Pipeline(ReplaySource(rec, speed=4.0), sim_model, hop_ms=100, device="cpu"),
        Pipeline(ReplaySource(rec, speed=4.0), model, hop_ms=100, device="cpu"),
    ):
        pipeline.rejection = None
        with pipeline:
            assert all(r.confident and r.confidence is None for r in collect(pipeline, 5))


def test_rankings_are_published_as_lsl_json_markers(sim_model, stream_name):
    from myostream.stream.lslconfig import pylsl_module

    pylsl = pylsl_module()
    rec = simulated_recording(seconds=10.0)
    received: list[dict] = []
    model = with_median_rule(sim_model, rec)
    pipeline = Pipeline(ReplaySource(rec, speed=2.0), model, hop_ms=100, publish_rankings=stream_name, device="cpu")
    with pipeline:
        infos = pylsl.resolve_byprop("name", stream_name, timeout=10.0)
        assert infos, "the rankings stream did not appear on LSL"
        inlet = pylsl.StreamInlet(infos[0])
        inlet.open_stream(timeout=5.0)
        delivered: list[HopRanking] = []

        def got_some() -> bool:
            delivered.extend(pipeline.queue.drain())
            sample, stamp = inlet.pull_sample(timeout=0.0)
            while sample is not None:
                received.append({**json.loads(sample[0]), "stamp": stamp})
                sample, stamp = inlet.pull_sample(timeout=0.0)
            return len(received) >= 5

        wait_for(got_some)
    assert infos[0].type() == "Markers" and infos[0].channel_format() == pylsl.cf_string
    by_time = {round(r.timestamp, 6): r for r in delivered + pipeline.queue.drain()}
    for msg in received:
        r = by_time[round(msg["t"], 6)]
        assert msg["stamp"] == pytest.approx(r.timestamp, abs=1e-6)
        assert [c for c, _ in msg["top"]] == [t.class_id for t in r.top]
        assert msg["true"] == r.true_class and msg["latency_ms"] >= 0
        # the markers say whether the first description is a confident match, and how confident
        assert msg["confident"] is r.confident and msg["confidence"] == pytest.approx(r.confidence, abs=1e-4)


def test_pause_stops_ranking_and_resume_restarts(sim_model):
    pipeline = Pipeline(SimulatedArmband(seed=2), sim_model, hop_ms=50, device="cpu")
    with pipeline:
        collect(pipeline, 3)
        pipeline.pause()
        assert pipeline.paused
        time.sleep(0.2)  # let a batch that was being ranked finish
        pipeline.queue.drain()
        samples = pipeline.stats().samples
        wait_for(lambda: pipeline.stats().samples > samples + 300)  # the source keeps being read
        assert pipeline.queue.drain() == []
        pipeline.resume()
        after = collect(pipeline, 3)
    assert after[0].counter > samples


def test_a_full_queue_drops_the_oldest_rankings_and_counts_them(sim_model):
    rec = simulated_recording(seconds=4.0)
    seen: list[HopRanking] = []
    pipeline = Pipeline(
        ReplaySource(rec, speed=4.0), sim_model, hop_ms=100, queue_size=3, on_ranking=seen.append, device="cpu"
    )
    with pipeline:
        wait_for(lambda: len(seen) >= 10)
    first = pipeline.queue.get(timeout=5.0)
    stats = pipeline.stats()
    kept = [first, *pipeline.queue.drain()]
    assert stats.dropped == stats.rankings - 3 and len(kept) == 3
    assert [r.counter for r in kept] == [r.counter for r in seen[-3:]]  # the newest survive, in order
    assert pipeline.queue.get(timeout=0.01) is None


def test_channel_count_mismatch_is_one_clear_error(sim_model):
    sim = SimulatedArmband(n_channels=6)
    pipeline = Pipeline(sim, sim_model, device="cpu")
    with pytest.raises(
        MyostreamError, match=r"Source 'simulated' streams 6 channels but model 'myosem-simulated' expects 8"
    ):
        pipeline.start()
    with pytest.raises(MyostreamError, match="not open"):
        sim.read()  # closed again after the failed start
    pipeline.stop()  # harmless after a failed start


def test_bad_arguments_are_clear_errors(sim_model):
    sim = SimulatedArmband()
    with pytest.raises(MyostreamError, match="smoothing = 1.0 must lie in"):
        Pipeline(sim, sim_model, smoothing=1.0)
    with pytest.raises(MyostreamError, match="ranks windows of 200 ms, not 300 ms"):
        Pipeline(sim, sim_model, window_ms=300)
    with pytest.raises(MyostreamError, match="hop_ms must be positive"):
        Pipeline(sim, sim_model, hop_ms=0)


def test_stop_joins_threads_closes_source_and_is_idempotent(sim_model):
    before = set(threading.enumerate())
    sim = SimulatedArmband()
    pipeline = Pipeline(sim, sim_model, device="cpu").start()
    names = {t.name for t in set(threading.enumerate()) - before}
    assert {"myostream-reader", "myostream-worker"} <= names
    collect(pipeline, 1)
    pipeline.stop()
    pipeline.stop()
    assert set(threading.enumerate()) == before
    assert not pipeline.running
    with pytest.raises(MyostreamError, match="not open"):
        sim.read()
    with pytest.raises(MyostreamError, match="already started"):
        pipeline.start()


def test_a_source_error_stops_the_pipeline_and_is_reported(sim_model):
    rec = simulated_recording(seconds=3.0)
    rec.emg[1500, 2] = np.nan  # replay refuses NaN samples with a MyostreamError
    errors: list[BaseException] = []
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), sim_model, device="cpu")
    pipeline.on_error = errors.append
    with pipeline:
        wait_for(lambda: pipeline.error is not None)
    assert isinstance(pipeline.error, MyostreamError) and "NaN" in str(pipeline.error)
    assert errors == [pipeline.error] and not pipeline.running


def test_ring_overruns_are_counted_as_lost_samples(sim_model):
    """An unthrottled replay outruns the worker: what the ring overwrote is counted, not hidden."""
    rec = simulated_recording(seconds=30.0)
    pipeline = Pipeline(ReplaySource(rec, speed=0), sim_model, hop_ms=20, device="cpu", buffer_s=0.5)
    with pipeline:
        wait_for(lambda: pipeline.source.exhausted)
        wait_for(lambda: pipeline.stats().rankings > 0)
        time.sleep(0.2)
        stats = pipeline.stats()
    rankings = pipeline.queue.drain()
    assert stats.samples == rec.n_samples
    assert stats.lost > 0
    # every ranked window is still exactly the recorded samples (no window spans a gap)
    n = sim_model.config.window_samples
    for r in rankings[-5:]:
        np.testing.assert_allclose(
            r.rms, patch_rms(rec.emg[r.counter - n + 1 : r.counter + 1], 20), rtol=1e-4, atol=1e-6
        )


def test_ninapro_db1_replay(db1_dir: Path, tmp_path):
    """A real DB1 file (10 ch, 100 Hz, already rectified) replayed into a 10-channel checkpoint."""
    from myostream.data.readers import read_recording

    rec = read_recording(db1_dir / "S1_A1_E1.mat")
    ckpt = make_checkpoint(tmp_path / "db1", "myosem-ninapro-db1", tuple(rec.label_names), np.asarray(rec.emg[:20000]))
    model = load_checkpoint(ckpt)
    start = 60.0  # a stretch with movements
    pipeline = Pipeline(ReplaySource(rec, speed=10.0, start=start), model, hop_ms=100, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 30)
        stats = pipeline.stats()
    assert stats.lost == 0 and pipeline.info.rate == 100.0
    first = int(round(start * rec.rate))
    n = model.config.window_samples
    assert (np.diff([r.counter for r in rankings]) == 10).all()
    truths = set()
    for r in rankings:
        window = np.asarray(rec.emg[first + r.counter - n + 1 : first + r.counter + 1])
        np.testing.assert_allclose(r.rms, patch_rms(window, model.config.patch), rtol=1e-4, atol=1e-6)
        assert r.rms.shape == (6, 10) and r.attention.shape == (4, 6)
        assert r.top[0].class_id in rec.label_names
        truths.add(r.true_class)
    assert truths <= set(rec.label_names) and len(truths) >= 1


def test_a_myo_wearers_band_is_found_as_worn_as_offline(myo_dir: Path):
    """Live, the band's orientation comes from the wearer's first seconds after their level settled,
    scaled as the offline evaluation scales them (their own level): Myo person Male0's Test0, which the
    offline estimate finds worn as trained. Windows scaled by the running level, still moving from the
    first gesture it settled on, read this band as turned 1.5 electrodes and mirrored."""
    from myostream.data.myo import read_myo_session
    from myostream.runtime import bundled_for, load_model

    test = read_myo_session(myo_dir / "EvaluationDataset" / "Male0" / "Test0")
    model = load_model(bundled_for(test.n_channels, test.rate).path)
    pipeline = Pipeline(ReplaySource(test, speed=10.0), model, device="cpu")
    with pipeline:
        wait_for(
            lambda: pipeline.orientation is not None or pipeline.error is not None or pipeline.source.exhausted, 120
        )
    assert pipeline.error is None and pipeline.orientation is not None, "no orientation estimated"
    assert pipeline.orientation.identity, pipeline.orientation_evidence


def test_a_myo_wearers_base_model_self_calibrates_from_their_first_seconds(myo_dir: Path):
    """From the same first seconds the bundled base labels the wearer's windows itself, calibrates a
    copy on the confident ones and hands it over between two hops; the base stays as it was."""
    from myostream.data.myo import read_myo_session
    from myostream.runtime import bundled_for, load_model
    from myostream.train.adapt import self_calibrate_ranker

    test = read_myo_session(myo_dir / "EvaluationDataset" / "Male0" / "Test0")
    model = load_model(bundled_for(test.n_channels, test.rate).path)
    prototypes = model.prototypes.clone()
    # looped: a busy machine may need more than one pass of the session for the calibration
    source = ReplaySource(test, speed=4.0, loop=True)
    pipeline = Pipeline(source, model, device="cpu", self_calibrate=self_calibrate_ranker)
    with pipeline:
        wait_for(lambda: pipeline.ranker is not model or pipeline.error is not None, 240)
        record = pipeline.self_calibration
        assert pipeline.error is None and record is not None, "no self-calibration"
        assert pipeline.ranker is not model and pipeline.ranker.metadata["self_calibration"] == record
        assert record["labelled"] <= record["windows"] and len(record["classes"]) >= 4
        pipeline.queue.drain()
        assert pipeline.queue.get(timeout=10) is not None  # the stream goes on with the new model
    assert torch.equal(model.prototypes, prototypes)  # a copy calibrated, the base untouched
    # a model already calibrated to its person (or self-calibrated) ranks as it is
    assert self_calibrate_ranker(pipeline.ranker, np.zeros((4, 40, 8), np.float32)) is None
    # without a self-calibration the pipeline keeps the base
    quiet = Pipeline(ReplaySource(test, speed=10.0), model, device="cpu")
    with quiet:
        wait_for(lambda: quiet.orientation is not None or quiet.error is not None or quiet.source.exhausted, 120)
        time.sleep(1.0)
    assert quiet.orientation is not None and quiet.ranker is model and quiet.self_calibration is None


def test_an_orientation_estimate_that_fails_leaves_the_band_as_worn(sim_model, caplog):
    """The estimate runs beside the ranking loop; whatever goes wrong in it is one logged sentence and
    the band ranked as worn, never a dead thread or a stopped stream."""
    from myostream.stream.orientation import Orientation

    pipeline = Pipeline(ReplaySource(simulated_recording(2.0)), sim_model, device="cpu")
    result: list[Orientation] = []
    with caplog.at_level("WARNING", logger="myostream.stream.pipeline"):
        pipeline._estimate_beside(np.zeros((0, sim_model.config.n_channels), np.float32), result)
    assert result == [Orientation()] and pipeline.orientation == Orientation()
    assert "Could not estimate how the band sits" in caplog.text and "as worn" in caplog.text


def test_bundled_model_ranks_the_true_gesture_first():
    """On the bundled checkpoint, the true gesture ranks first for >= 90% of hops after a gesture's first second."""
    from myostream.runtime import load_model, make_pipeline

    try:
        model = load_model()
    except MyostreamError as exc:
        pytest.skip(str(exc))
    rec = simulated_recording(seconds=40.0, seed=0, hold_s=3.0, rest_s=2.0)  # the default armband and schedule
    pipeline = make_pipeline(ReplaySource(rec, speed=4.0), model, hop_ms=50, smoothing=0.5, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 600)
    onset, previous, hits = 0, None, []
    for r in rankings:
        if r.true_class != previous:
            onset, previous = r.counter, r.true_class
        if r.counter - onset >= rec.rate:
            hits.append(r.top[0].class_id == r.true_class)
    assert len(hits) > 100 and np.mean(hits) >= 0.9, f"top-1 = truth in {np.mean(hits):.1%} of {len(hits)} hops"


@pytest.fixture(scope="module")
def model_200hz(tmp_path_factory):
    """An 8-channel model at 200 Hz (the Myo armband's config) for the simulated armband's classes."""
    rec = simulated_recording(seconds=5.0)
    from myostream.stream.resample import Resampler

    at_200 = Resampler(rec.rate, 200.0, 8).process(rec.emg)
    return load_checkpoint(
        make_checkpoint(tmp_path_factory.mktemp("m200") / "ckpt", "myosem-myo", rec.label_names, at_200)
    )


def test_a_stream_at_another_rate_is_resampled_to_the_model(model_200hz):
    """A 1 kHz replay through a 200 Hz model: the model's windows are the causally resampled stream."""
    from myostream.stream.resample import Resampler

    rec = simulated_recording(seconds=10.0)
    pipeline = Pipeline(ReplaySource(rec, speed=4.0), model_200hz, hop_ms=100, device="cpu")
    with pipeline:
        rankings = collect(pipeline, 40)
    assert pipeline.model_rate == 200.0
    counters = np.array([r.counter for r in rankings])
    assert (np.diff(counters) > 0).all() and np.median(np.diff(counters)) == 100  # 100 ms hops in source samples
    offline = Resampler(rec.rate, 200.0, 8).process(rec.emg)  # what training at 200 Hz would have seen
    n, patch = model_200hz.config.window_samples, model_200hz.config.patch
    for r in rankings[5:]:
        end = (r.counter + 1) // 5  # the 200 Hz sample the window ends on
        window = offline[end - n : end]
        np.testing.assert_allclose(r.rms, patch_rms(window, patch), rtol=1e-3, atol=1e-5)
        assert r.true_class in rec.label_names


def test_channels_map_a_wider_source_onto_the_model(sim_model):
    wide = SimulatedArmband(n_channels=16, seed=1)
    with pytest.raises(MyostreamError, match="streams 16 channels but model .* expects 8.*--channels"):
        Pipeline(wide, sim_model, device="cpu").start()
    with pytest.raises(MyostreamError, match="channel map \\[0, 1, 9\\] must name 8 of .* 0..15"):
        Pipeline(SimulatedArmband(n_channels=16, seed=1), sim_model, channels=[0, 1, 9], device="cpu").start()
    pipeline = Pipeline(SimulatedArmband(n_channels=16, seed=1), sim_model, channels=range(8, 16), device="cpu")
    with pipeline:
        rankings = collect(pipeline, 5)
    assert pipeline.filtered.n_channels == 8 and rankings[-1].rms.shape[1] == 8


def test_rates_without_a_small_ratio_are_refused(model_200hz):
    sim = SimulatedArmband(rate=333.3, seed=1)
    with pytest.raises(MyostreamError, match="333.3 Hz and model .* takes 200 Hz, a ratio the resampler cannot do"):
        Pipeline(sim, model_200hz, device="cpu").start()


class _Recorder:
    """A ranker that passes calls to the real model and notes when each came, relative to the source opening."""

    def __init__(self, model, events: list[str]) -> None:
        self.model, self.events = model, events
        self.config, self.class_ids, self.catalog = model.config, model.class_ids, model.catalog
        self.preprocessing = model.preprocessing

    def rank(self, windows, k=5):
        self.events.append(f"rank {len(windows)}" + (" empty" if not np.any(windows) else ""))
        return self.model.rank(windows, k)


class _NotedSource(ReplaySource):
    def __init__(self, recording, events: list[str], **kw) -> None:
        super().__init__(recording, **kw)
        self.events = events

    def open(self) -> None:
        self.events.append("open")
        super().open()


def test_the_model_is_warmed_up_before_the_source_opens(sim_model):
    """The first hops used to be ranked by a cold model (p99 240 ms lingering in the status bar)."""
    from myostream.stream.pipeline import WARM_UP_CALLS

    events: list[str] = []
    pipeline = Pipeline(
        _NotedSource(simulated_recording(), events, speed=4.0), _Recorder(sim_model, events), device="cpu"
    )
    with pipeline:
        collect(pipeline, 3)
    assert events[: WARM_UP_CALLS + 1] == ["rank 1 empty"] * WARM_UP_CALLS + ["open"]
    assert all(e.startswith("rank") and not e.endswith("empty") for e in events[WARM_UP_CALLS + 1 :])


def test_stats_report_silence_and_a_falling_rate_when_samples_stop(sim_model):
    rec = simulated_recording(seconds=2.0)
    pipeline = Pipeline(ReplaySource(rec, speed=2.0), sim_model, device="cpu")
    with pipeline:
        collect(pipeline, 3)
        running = pipeline.stats()
        assert running.rate > 0 and running.silent_s < 1.0
        wait_for(lambda: pipeline.source.exhausted)
        wait_for(lambda: pipeline.stats().silent_s >= 1.5)  # the replay ended: nothing arrives any more
        stopped = pipeline.stats()
    assert stopped.rate < running.rate and stopped.samples == rec.n_samples
    assert stopped.latency_p50_ms <= stopped.latency_p99_ms


class CountingOpens:
    """The live simulated armband, counting how often it is opened (a Source like any other)."""

    def __init__(self) -> None:
        self.armband = SimulatedArmband(hold_s=1.0, rest_s=0.5, seed=5)
        self.info = self.armband.info
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        self.armband.open()

    def read(self, timeout: float = 0.0):
        return self.armband.read(timeout)

    def close(self) -> None:
        self.armband.close()


@pytest.fixture(scope="module")
def five_class_model(tmp_path_factory):
    """The simulated armband's config (same preparation as ``sim_model``) for five of its classes."""
    sim = SimulatedArmband(realtime=False)
    signal = sim.generate(5.0).data
    folder = tmp_path_factory.mktemp("five") / "five"
    return load_checkpoint(make_checkpoint(folder, "myosem-simulated", sim.info.label_names[:5], signal))


def test_another_model_takes_over_between_two_hops_without_reopening_the_source(sim_model, five_class_model):
    source = CountingOpens()
    got: list[HopRanking] = []
    pipeline = Pipeline(source, sim_model, hop_ms=50, device="cpu", on_ranking=got.append)
    with pipeline:
        wait_for(lambda: len(got) >= 20)
        level = pipeline.normaliser
        pipeline.set_ranker(five_class_model)
        wait_for(lambda: pipeline.ranker is five_class_model and sum(len(r.scores) == 5 for r in got) >= 20)
        assert pipeline.class_ids == tuple(five_class_model.class_ids) and pipeline.normaliser is level
    assert source.opens == 1
    sizes = [len(r.scores) for r in got]
    switch = sizes.index(5)
    assert set(sizes[:switch]) == {9} and set(sizes[switch:]) == {5}  # once, and for good
    counters = np.array([r.counter for r in got])
    assert (np.diff(counters) == 50).all(), "a hop was skipped or repeated at the switch"
    assert all(r.top[0].class_id in five_class_model.class_ids for r in got[switch:])


def test_a_pipeline_without_a_model_streams_until_one_is_given(sim_model):
    source = CountingOpens()
    pipeline = Pipeline(source, None, hop_ms=50, device="cpu")
    with pipeline:
        wait_for(lambda: pipeline.ring.count > 2000)
        assert not pipeline.ranking and pipeline.running and pipeline.queue.drain() == []
        assert pipeline.model_rate == 1000.0 and pipeline.filtered is None
        from_sample = pipeline.ring.count
        pipeline.set_ranker(sim_model)
        rankings = collect(pipeline, 10)
        assert pipeline.ranking and pipeline.filtered is not None
    assert source.opens == 1 and rankings[0].counter >= from_sample
    assert len(rankings[0].scores) == len(sim_model.class_ids)


def test_a_model_prepared_otherwise_restarts_only_the_worker(sim_model):
    other = copy.deepcopy(sim_model)
    other.set_preprocessing(replace(sim_model.preprocessing, filter=FilterSpec(highpass=20.0, notch=50.0)))
    source = CountingOpens()
    pipeline = Pipeline(source, sim_model, hop_ms=50, device="cpu")
    with pipeline:
        collect(pipeline, 5)
        pipeline.set_ranker(other)
        assert pipeline.ranker is other and pipeline.filter_spec == other.preprocessing.filter
        pipeline.queue.drain()
        collect(pipeline, 5)
    assert source.opens == 1


def test_a_model_that_does_not_fit_the_stream_is_refused_and_the_old_one_goes_on(sim_model, tmp_path):
    sim = SimulatedArmband(realtime=False, n_channels=4)
    four = load_checkpoint(
        make_checkpoint(
            tmp_path / "four", "myosem-simulated", sim.info.label_names[:3], np.tile(sim.generate(5.0).data, (1, 2))
        )
    )
    four.set_preprocessing(replace(four.preprocessing, n_channels=8))  # claims 8 channels ...
    four.config = replace(four.config, n_channels=4)  # ... but ranks four
    pipeline = Pipeline(SimulatedArmband(seed=2), sim_model, hop_ms=50, device="cpu")
    with pipeline:
        collect(pipeline, 3)
        with pytest.raises(MyostreamError, match="expects 4"):
            pipeline.set_ranker(four)
        assert pipeline.ranker is sim_model
        pipeline.queue.drain()
        collect(pipeline, 3)
    with pytest.raises(MyostreamError, match="has stopped"):
        pipeline.set_ranker(sim_model)


def test_a_tap_reads_every_sample_the_pipeline_reads(sim_model):
    pipeline = Pipeline(SimulatedArmband(seed=3), sim_model, hop_ms=50, device="cpu")
    with pipeline:
        tap = pipeline.tap()
        tap.open()
        start = pipeline.ring.count
        chunks = []
        while sum(len(c) for c in chunks) < 1500:
            chunks.append(tap.read(timeout=0.05))
        ring_part = pipeline.ring.since(start)
        tap.close()
        assert pipeline.running  # closing a tap leaves the stream as it was
        collect(pipeline, 2)
    data = np.concatenate([c.data for c in chunks])
    stamps = np.concatenate([c.timestamps for c in chunks])
    assert sum(c.lost for c in chunks) == 0 and np.allclose(np.diff(stamps), 1e-3)
    n = min(len(data), len(ring_part))
    np.testing.assert_array_equal(data[:n], ring_part.data[:n])
    assert tap.info.name == "simulated"
    tap.open()
    with pytest.raises(MyostreamError, match="stopped"):
        tap.read(timeout=0.1)


def test_a_tap_of_a_channel_mapped_pipeline_reads_the_mapped_channels(sim_model):
    channels = [15, 13, 11, 9, 7, 5, 3, 1]
    pipeline = Pipeline(SimulatedArmband(n_channels=16, seed=3), sim_model, hop_ms=50, device="cpu", channels=channels)
    with pipeline:
        tap = pipeline.tap()
        tap.open()
        start = pipeline.ring.count
        chunks = []
        while sum(len(c) for c in chunks) < 500:
            chunks.append(tap.read(timeout=0.05))
        ring_part = pipeline.ring.since(start)
        tap.close()
    assert tap.info.channel_names == tuple(f"EMG{c + 1}" for c in channels)
    data = np.concatenate([c.data for c in chunks])
    n = min(len(data), len(ring_part))
    np.testing.assert_array_equal(data[:n], ring_part.data[:n, channels])


def test_a_channel_map_outside_the_source_names_its_channel_count(sim_model):
    pipeline = Pipeline(SimulatedArmband(seed=3), sim_model, device="cpu", channels=[0, 1, 2, 3, 4, 5, 6, 8])
    with pytest.raises(
        MyostreamError,
        match=r"Channel 8 of the channel map .* is not a channel of source 'simulated', "
        r"which has 8 channels \(numbered 0..7\)",
    ):
        pipeline.start()
    pipeline.stop()
