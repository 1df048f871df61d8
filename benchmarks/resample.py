"""Resampling stage: what it costs in time, in delay and in accuracy on real data.

- Cost: ``Resampler.process_chunk`` (samples, timestamps and labels: the call the pipeline
  makes) in 10-sample chunks, as a multiple of real time on one core, side by side with
  the ``FilterStage`` (band-pass 20-450 Hz + 50 Hz notch x3, edges clipped at the input
  rate's Nyquist) on the same chunks, interleaved by half-second segments (medians):
  16 ch 2 kHz -> 1 kHz, 8 ch 200 Hz -> 1 kHz and 8 ch 1 kHz -> 200 Hz; and each stage's
  group delay.
- Accuracy: the EvaluationDataset people of the Côté-Allard Myo armband recordings (8 ch,
  200 Hz). Each session (its gesture files back to back, as a replay streams it) goes
  through causal Resamplers (200 -> 1000 -> 200 Hz, 200 -> 500 -> 200 Hz, and the first
  with a shorter and a longer filter: delay against transition band), then the
  ``myo-armband-dataset`` profile's filter; 260 ms windows every 50 ms, labelled by the
  labels the resamplers carry. The classic baseline, a per-person shrinkage LDA on Hudgins
  features, is trained on the person's original ``training0`` session (as a model trained
  at the device's own rate) and tested on their ``Test0`` + ``Test1`` sessions, original vs
  round-tripped; each row also says what it scores when trained on its own condition's
  ``training0``. With ``--model CKPT`` the checkpoint ranks the same test sessions after
  its own preprocessing (filter, per-user normalisation) at its own rate (each condition's
  signal resampled causally to that rate when it differs).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from myostream.data.myo import read_myo_session
from myostream.data.prepare import filter_recordings
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from myostream.model.lda import HudginsLDA
from myostream.preprocess import FilterSpec
from myostream.records import Recording
from myostream.stream.devices import load_profile
from myostream.stream.filters import FilterStage
from myostream.stream.resample import Resampler
from myostream_reports.bench import Measurement, load_average, one_core

if TYPE_CHECKING:
    from myostream.model.retrieval import RetrievalModel

SHARED = Path(os.environ.get("MYOSTREAM_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
MYO = SHARED / "myo-armband"
CHUNK = 10
SEGMENT_S = 0.5
COST_CASES = ((2000.0, 1000.0, 16), (200.0, 1000.0, 8), (1000.0, 200.0, 8))
COST_SPEC = FilterSpec(highpass=20.0, lowpass=450.0, notch=50.0, harmonics=3)
WINDOW_MS, HOP_MS = 260.0, 50.0
#: condition name -> (rates the session passes through after its own 200 Hz, half_width)
CONDITIONS: dict[str, tuple[tuple[float, ...], int]] = {
    "original 200 Hz": ((), 10),
    "200 -> 1000 -> 200 Hz": ((1000.0, 200.0), 10),
    "200 -> 500 -> 200 Hz": ((500.0, 200.0), 10),
    "200 -> 1000 -> 200 Hz, half_width 4": ((1000.0, 200.0), 4),
    "200 -> 1000 -> 200 Hz, half_width 20": ((1000.0, 200.0), 20),
}
#: accuracy a round trip may lose against the original and still count as harmless (chosen here)
MAX_LOSS_POINTS = 1.0


# ---------------------------------------------------------------------------------- cost


def _timed(step, pieces: list[tuple[np.ndarray, ...]]) -> float:
    t0 = time.perf_counter()
    for piece in pieces:
        step(*piece)
    return time.perf_counter() - t0


def _cost(rate_in: float, rate_out: float, channels: int, seconds: float) -> list[Measurement]:
    n = int(seconds * rate_in)
    x = np.random.default_rng(0).standard_normal((n, channels)).astype(np.float32)
    ts = np.arange(n) / rate_in
    labels = (np.arange(n) // int(rate_in) % 7).astype(np.int16)
    stage = Resampler(rate_in, rate_out, channels)
    filt = FilterStage(rate_in, channels, COST_SPEC)
    # Half-second segments, each timed through both stages in turn: a burst of other work on
    # a shared machine lands in a few segments, and the medians leave it out.
    segment = int(SEGMENT_S * rate_in)
    t_res, t_filt = [], []
    for a in range(0, n - segment + 1, segment):
        chunks = [(x[i : i + CHUNK], ts[i : i + CHUNK], labels[i : i + CHUNK]) for i in range(a, a + segment, CHUNK)]
        t_res.append(_timed(stage.process_chunk, chunks))
        t_filt.append(_timed(filt.process, [c[:1] for c in chunks]))
    ours, base = SEGMENT_S / float(np.median(t_res)), SEGMENT_S / float(np.median(t_filt))
    per_chunk_us = 1e6 * float(np.median(t_res)) / (segment // CHUNK)
    ratio = float(np.median(np.array(t_res) / np.array(t_filt)))
    name = f"{rate_in:g} -> {rate_out:g} Hz, {channels} ch"
    return [
        Measurement(
            name=f"resampler {name}, {CHUNK}-sample chunks",
            value=ours,
            unit="x real time",
            baseline="FilterStage on the same chunks, x real time",
            baseline_value=base,
            target=">= 200x real time",
            met=ours >= 200,
            details=(
                f"up/down {stage.up}/{stage.down}, {len(stage.taps)} taps; {per_chunk_us:.1f} us per chunk "
                f"(process_chunk: samples, stamps and labels); costs {ratio:.1f}x the filter stage (median over "
                f"{len(t_res)} segments of {SEGMENT_S:g} s, each through both stages in turn); {load_average()}."
            ),
        ),
        Measurement(
            name=f"resampler group delay {name}",
            value=1e3 * stage.delay_s,
            unit="ms",
            details=f"half_width {stage.half_width} periods of the lower rate; linear phase: every frequency alike.",
        ),
    ]


# ------------------------------------------------------------------------------ accuracy


def _delay_ms(rate: float, rates: Sequence[float], half_width: int) -> float:
    """Delay a chain of resamplers from ``rate`` through ``rates`` adds."""
    total = 0.0
    for target in rates:
        total += Resampler(rate, target, 1, half_width=half_width).delay_s
        rate = target
    return 1e3 * total


def _through(rec: Recording, rates: Sequence[float], half_width: int) -> Recording:
    """``rec`` streamed through causal Resamplers rate by rate (labels carried along)."""
    data, labels, rate = np.asarray(rec.emg, np.float32), rec.labels, rec.rate
    ts = np.arange(len(data)) / rate
    for target in rates:
        out = Resampler(rate, target, rec.n_channels, half_width=half_width).process_chunk(data, ts, labels)
        data, ts, labels, rate = out.data, out.timestamps, out.labels, target
    return dataclasses.replace(rec, emg=data, labels=labels, rate=rate, repetition=None)


def _people() -> list[tuple[str, dict[str, Recording]]]:
    root = MYO / "EvaluationDataset"
    people = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        sessions = {s: read_myo_session(person / s) for s in ("training0", "Test0", "Test1") if (person / s).is_dir()}
        if len(sessions) == 3:
            people.append((person.name, sessions))
    if not people:
        raise MyostreamError(f"No EvaluationDataset person in {str(root)!r} has training0, Test0 and Test1 sessions.")
    return people


def _lda(people: list[tuple[str, dict[str, Recording]]]) -> tuple[dict[str, list[float]], dict[str, list[float]], int]:
    """Per condition, each person's test accuracy (%) trained on the original and on the same condition."""
    spec = load_profile("myo-armband-dataset").filter
    on_original: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    on_same: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    n_test = 0
    for _, sessions in people:
        streams = {
            c: filter_recordings([_through(sessions[s], rates, hw) for s in ("training0", "Test0", "Test1")], spec)
            for c, (rates, hw) in CONDITIONS.items()
        }
        original = extract_windows(streams["original 200 Hz"], WINDOW_MS, HOP_MS)
        train = original.recording == 0
        lda = HudginsLDA().fit(original.data(np.flatnonzero(train)), original.y[train])
        for c, recs in streams.items():
            ws = extract_windows(recs, WINDOW_MS, HOP_MS, classes=original.class_ids)
            test = np.flatnonzero(ws.recording > 0)
            x_test, y_test = ws.data(test), ws.y[test]
            on_original[c].append(100.0 * float(np.mean(lda.predict(x_test) == y_test)))
            own_train = np.flatnonzero(ws.recording == 0)
            own = HudginsLDA().fit(ws.data(own_train), ws.y[own_train])
            on_same[c].append(100.0 * float(np.mean(own.predict(x_test) == y_test)))
            if c == "original 200 Hz":
                n_test += len(test)
    return on_original, on_same, n_test


def _model(
    model: RetrievalModel, path: str, people: list[tuple[str, dict[str, Recording]]]
) -> tuple[dict[str, list[float]], dict[str, float], str]:
    """Per condition, each person's top-1 (%) of the checkpoint on their Test0 + Test1 sessions."""
    import torch

    from myostream.data.prepare import prepare_recordings
    from myostream.train.adapt import model_windows
    from myostream.train.evaluate import embed_windows

    rate = float(model.config.rate)
    top1: dict[str, list[float]] = {}
    delays: dict[str, float] = {}
    for _, sessions in people:
        tests = [sessions["Test0"], sessions["Test1"]]
        for c, (rates, hw) in CONDITIONS.items():
            end_rate = rates[-1] if rates else tests[0].rate
            chain = rates if end_rate == rate else (*rates, rate)
            prepared = prepare_recordings([_through(r, chain, hw) for r in tests], model.preprocessing)
            ws, _ = model_windows(model, prepared, HOP_MS)
            z = embed_windows(model, torch.from_numpy(ws.data()))
            predicted = (z @ model.prototypes.float().cpu().T).argmax(dim=1).numpy()
            name = c if chain == rates else f"{c}, then -> {rate:g} Hz"
            top1.setdefault(name, []).append(100.0 * float(np.mean(predicted == ws.y)))
            delays[name] = _delay_ms(tests[0].rate, chain, hw)
    experiment = model.metadata.get("experiment", {})
    trained = f"`myostream train {experiment['name']}`, seed {experiment.get('seed')}; " if "name" in experiment else ""
    how = (
        f"checkpoint {path} ({trained}{model.config.name}, {rate:g} Hz, {len(model.class_ids)} candidates) "
        f"ranking every {model.config.window_ms:g} ms window every {HOP_MS:g} ms of Test0 + Test1 after its own "
        f"preprocessing ({model.preprocessing.filter}, normalisation {model.preprocessing.normalisation!r}); "
        "mean over people; "
        "the LDA rows are the baseline of the same run"
    )
    return top1, delays, how


def _accuracy_rows(
    what: str, per_condition: dict[str, list[float]], delays: dict[str, float], names: Sequence[str], how: str
) -> list[Measurement]:
    """One row per condition; the first condition is the original the others are measured against."""
    first = next(iter(per_condition))
    original = float(np.mean(per_condition[first]))
    rows = []
    for c, values in per_condition.items():
        mean = float(np.mean(values))
        per_person = "per person: " + ", ".join(f"{n} {v:.1f}" for n, v in zip(names, values))
        is_first = c == first
        rows.append(
            Measurement(
                name=f"{what}, Myo {c}",
                value=mean,
                unit="% windows",
                baseline="" if is_first else first,
                baseline_value=None if is_first else original,
                target="" if is_first else f"at most {MAX_LOSS_POINTS:g} point below",
                met=None if is_first else mean >= original - MAX_LOSS_POINTS,
                details=(f"{how}; " if is_first else "") + f"resampling delay {delays[c]:g} ms; {per_person}.",
            )
        )
    return rows


def run(quick: bool = False, model: str | None = None) -> list[Measurement]:
    checkpoint = None
    if model is not None:  # a wrong path fails before anything is measured
        from myostream.model.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(model)
    results: list[Measurement] = []
    with one_core() as pinned:
        for rate_in, rate_out, channels in COST_CASES:
            results += _cost(rate_in, rate_out, channels, seconds=20.0 if quick else 120.0)
    for r in results:
        if r.unit == "x real time":
            r.details = r.details.rstrip(".") + f", {pinned}."
    if not (MYO / "EvaluationDataset").is_dir():
        return results + [Measurement("Myo round-trip accuracy", float("nan"), "%", details=f"skipped: {MYO} absent")]
    people = _people()
    names = [n for n, _ in people]
    on_original, on_same, n_test = _lda(people)
    how = (
        f"per-person shrinkage LDA on Hudgins features (MAV, WL, ZC, SSC x 8 ch), trained on the person's original "
        f"training0, tested on Test0 + Test1 ({n_test} windows of {WINDOW_MS:g} ms every {HOP_MS:g} ms over "
        f"{len(people)} people), after the myo-armband-dataset filter; mean over people; the 1-point target is "
        "this benchmark's own choice"
    )
    delays = {c: _delay_ms(people[0][1]["Test0"].rate, rates, hw) for c, (rates, hw) in CONDITIONS.items()}
    rows = _accuracy_rows("LDA accuracy", on_original, delays, names, how)
    for row, values in zip(rows, on_same.values()):
        row.details += f" Trained on this condition's own training0 instead: {np.mean(values):.2f} %."
    results += rows
    if checkpoint is not None and model is not None:
        top1, model_delays, how = _model(checkpoint, model, people)
        results += _accuracy_rows(f"model {Path(model).name} top-1", top1, model_delays, names, how)
    return results
