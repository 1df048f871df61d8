"""``myostream report transfer``: how well a pretrained model serves a person it has never seen.

For each new person: zero-shot (no calibration), then calibration from the first 1, 2, ...
repetitions of each gesture, against the classic per-person LDA on Hudgins features
trained on exactly the same calibration windows, and a fine-tuned TCN. EMG->text R@1 and
MRR over every test window, and the wall time of every calibration.

- **Myo armband** (Côté-Allard): bases trained on the PreTrainingDataset (22 people);
  the EvaluationDataset people (6 here) calibrate from ``training0`` and are tested on
  ``Test0`` and ``Test1`` (recorded on other days, the band put on again). Robustness: the
  same test sessions as if the band had been worn turned or flipped.
- **NinaPro DB1**: four validation people choose DB1's calibration settings and are never
  reported; the other ten, in two folds of unseen subjects, each base trained on everyone
  outside its fold, calibrate from their first repetitions and are tested on repetitions 8-10.

How a live wearer is treated, offline: every wearing (session) is scaled by its own
level and, for ring bands, oriented from its own first ``FIRST_SECONDS`` of signal,
unlabelled, as the live pipeline does; calibration windows are prepared the same way.

Settings are chosen on validation people, never on the people reported: the Myo
section starts with the PreTrainingDataset people held out of a validation base, the DB1
section with its own validation people.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myostream.data.prepare import filter_recordings, person_key, person_levels, prepare_recordings
from myostream.data.windows import WindowSet, extract_windows
from myostream.errors import MyostreamError
from myostream.model.lda import HudginsLDA, ShrinkageLDA
from myostream.records import Recording
from myostream.stream.orientation import (
    ESTIMATE_SECONDS,
    IDENTITY_MARGIN,
    STEPS_PER_ELECTRODE,
    Orientation,
    estimate_orientation,
)
from myostream.train.adapt import SELF_CALIBRATION_CONFIDENCE, AdaptOptions, adapt_model, fuse_lda, self_calibrate
from myostream.train.evaluate import window_scores
from myostream.train.metrics import summarize_ranks, target_ranks
from myostream_reports import dataset_folders

#: unlabelled signal a wearing's level and orientation are estimated from (the live pipeline's)
FIRST_SECONDS = ESTIMATE_SECONDS
Say = Callable[[str], object]


@dataclass
class Person:
    """A new person: one calibration wearing and the wearings that test."""

    name: str
    calibration: list[Recording]
    tests: dict[str, list[Recording]]
    #: repetitions of the test wearings that score (None: all)
    test_repetitions: tuple[int, ...] | None = None
    #: every repetition of a wearing that both calibrates and tests (DB1): after calibrating on
    #: the first k, the calibrated methods are also scored on all the rest (k+1 on), the issue's
    #: protocol for the per-person LDA reference; None: no such scoring
    repetitions: tuple[int, ...] | None = None


@dataclass
class Scores:
    r1: float
    mrr: float
    n: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- windows


def _windows(
    model: Any, prepared: Sequence[Recording], hop_ms: float, reps: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray, WindowSet]:
    """The model's labelled windows over prepared recordings (labels index the model's class ids)."""
    ws = extract_windows(prepared, model.config.window_ms, hop_ms, classes=model.class_ids)
    keep = np.arange(len(ws)) if reps is None else np.flatnonzero(np.isin(ws.repetition, list(reps)))
    return ws.data(keep), ws.y[keep], ws


def wearing_windows(
    model: Any,
    recordings: Sequence[Recording],
    hop_ms: float,
    reps: Sequence[int] | None = None,
    orient: bool = True,
    steps: int = STEPS_PER_ELECTRODE,
    margin: float = IDENTITY_MARGIN,
) -> tuple[np.ndarray, np.ndarray, Orientation]:
    """Windows of one wearing prepared as live: its level and (ring bands, ``orient``) its
    orientation from its first ``FIRST_SECONDS``, unlabelled, weighing turns in ``steps`` per
    electrode; then the windows of ``reps``."""
    pre = model.preprocessing
    prepared = prepare_recordings(recordings, pre, seconds=FIRST_SECONDS)
    x, y, ws = _windows(model, prepared, hop_ms, reps)
    fix = Orientation()
    if orient and pre.ring and pre.normalisation != "none":
        first = _first_windows(ws, FIRST_SECONDS)
        level = person_levels(filter_recordings(recordings, pre.filter), pre.normalisation, FIRST_SECONDS)
        fix, _ = estimate_orientation(model, first, next(iter(level.values())), pre.ring_profile, steps, margin)
        x = fix.apply(x)
    return x, y, fix


def _first_windows(ws: Any, seconds: float) -> np.ndarray:
    """Windows that end within the first ``seconds`` of their wearing (recordings in order)."""
    offsets, total = [], 0
    for r in ws.recordings:
        offsets.append(total)
        total += r.n_samples
    ends = np.asarray(offsets)[ws.recording] + ws.start + ws.length
    first = np.flatnonzero(ends <= seconds * ws.rate)
    return ws.data(first if len(first) else np.arange(min(len(ws), 64)))


def first_of_wearing(model: Any, recordings: Sequence[Recording], fix: Orientation) -> np.ndarray:
    """A wearing's first ``FIRST_SECONDS`` of windows as the model ranks them (own level, ``fix``
    applied): what the live pipeline holds, unlabelled, when it estimates the orientation."""
    prepared = prepare_recordings(recordings, model.preprocessing, seconds=FIRST_SECONDS)
    _, _, ws = _windows(model, prepared, model.preprocessing.hop_ms)
    return fix.apply(_first_windows(ws, FIRST_SECONDS))


def retrieval(model: Any, x: np.ndarray, y: np.ndarray) -> Scores:
    ranks = target_ranks(window_scores(model, torch.from_numpy(x)).double(), torch.from_numpy(y).long())
    m = summarize_ranks(ranks)
    return Scores(m["R@1"], m["MRR"], int(len(y)))


def lda_scores(lda: HudginsLDA, x: np.ndarray, y: np.ndarray, classes: np.ndarray) -> Scores:
    """R@1 and MRR of an LDA's decision scores (classes it never saw rank last)."""
    scores = np.full((len(x), len(classes)), -np.inf)
    d = lda.lda_.decision_function(lda.features(x))
    for j, c in enumerate(lda.lda_.classes_):
        scores[:, int(np.flatnonzero(classes == c)[0])] = d[:, j]
    ranks = target_ranks(torch.from_numpy(np.nan_to_num(scores, neginf=-1e30)), torch.from_numpy(y).long())
    m = summarize_ranks(ranks)
    return Scores(m["R@1"], m["MRR"], int(len(y)))


def _lda_tests(
    lda: HudginsLDA,
    model: Any,
    tests: dict[str, list[Recording]],
    hop: float,
    reps: tuple[int, ...] | None,
    fit_s: float,
) -> Scores:
    """A person's LDA on the (filtered) test wearings ``tests``, windows cut as ``model`` cuts them."""
    classes = np.arange(len(model.class_ids))
    parts = [lda_scores(lda, *_windows(model, recs, hop, reps)[:2], classes) for recs in tests.values()]
    n = sum(p.n for p in parts)
    return Scores(sum(p.r1 * p.n for p in parts) / n, sum(p.mrr * p.n for p in parts) / n, n, seconds=round(fit_s, 2))


# ----------------------------------------------------------------------------- one person


def score_tests(
    model: Any,
    person: Person,
    orient: bool = True,
    steps: int = STEPS_PER_ELECTRODE,
    margin: float = IDENTITY_MARGIN,
    self_confidence: float | None = None,
    options: AdaptOptions = AdaptOptions(),
) -> Scores:
    """The model on every test wearing of ``person``, each prepared as live (own level, own
    orientation); with ``self_confidence``, each wearing first self-calibrates the model on its
    first seconds, unlabelled, as ``options`` calibrate (:func:`~myostream.train.adapt.self_calibrate`),
    as live."""
    hop = model.preprocessing.hop_ms
    parts = [
        wearing_windows(model, recs, hop, person.test_repetitions, orient, steps, margin)
        for recs in person.tests.values()
    ]
    models = [model] * len(parts)
    if self_confidence is not None:
        own = [
            self_calibrate(model, first_of_wearing(model, recs, fix), self_confidence, options)
            for recs, (_, _, fix) in zip(person.tests.values(), parts)
        ]
        models = [m if m is not None else model for m in own]
    scores = [retrieval(m, x, y) for m, (x, y, _) in zip(models, parts)]
    n = sum(s.n for s in scores)
    extra: dict[str, Any] = {"orientations": [(o.shift, o.mirror) for _, _, o in parts]}
    if self_confidence is not None:
        extra["self_calibrated"] = [m is not model for m in models]
    return Scores(sum(s.r1 * s.n for s in scores) / n, sum(s.mrr * s.n for s in scores) / n, n, extra=extra)


def evaluate_person(
    person: Person,
    bases: dict[str, Any],
    shots: Sequence[int],
    options: AdaptOptions,
    say: Say = print,
    margin: float = IDENTITY_MARGIN,
    self_confidence: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Every method at every number of calibration repetitions for one person (``margin``: the
    orientation estimate's, see :func:`~myostream.stream.orientation.estimate_orientation`).

    ``bases``: ``"myosem"`` (the transfer recipe), optional ``"tcn"`` (same recipe) and
    ``"myosem-plain"`` (no per-user normalisation, no augmentation: the old recipe).
    Returns ``{method: {shots: Scores-dict}}``.
    """
    base = bases["myosem"]
    hop = base.preprocessing.hop_ms
    out: dict[str, dict[str, Any]] = {}

    def put(method: str, k: int, s: Scores) -> None:
        out.setdefault(method, {})[str(k)] = dataclasses.asdict(s)

    def tests(model: Any, orient: bool = True, reps: tuple[int, ...] | None = person.test_repetitions) -> Scores:
        return score_tests(model, dataclasses.replace(person, test_repetitions=reps), orient, margin=margin)

    put("MyoSem", 0, tests(base))
    if self_confidence is not None:
        put(
            SELF_CALIBRATED,
            0,
            score_tests(base, person, margin=margin, self_confidence=self_confidence, options=options),
        )
    if base.preprocessing.ring:
        put("MyoSem, orientation not estimated", 0, tests(base, orient=False))
    for name in ("myosem-plain", "tcn"):
        if name in bases:
            put({"myosem-plain": "MyoSem, old recipe", "tcn": "TCN"}[name], 0, tests(bases[name]))

    # the classic per-person baseline sees filtered windows, as it always has
    filtered_tests = {k: filter_recordings(v, base.preprocessing.filter) for k, v in person.tests.items()}
    calibration_filtered = filter_recordings(person.calibration, base.preprocessing.filter)
    for k in [k for k in shots if k > 0]:
        reps = list(range(1, k + 1))
        x, y, fix = wearing_windows(base, person.calibration, hop, reps)
        if len(np.unique(y)) < 2:
            raise MyostreamError(f"{person.name}: the first {k} repetition(s) hold fewer than two classes.")

        def calibrate(model: Any, xs: np.ndarray, ys: np.ndarray, mode: str) -> float:
            """Adapt ``model`` in place on the calibration windows (no LDA fusion); the seconds it took."""
            begin = time.perf_counter()
            options_for = dataclasses.replace(options, mode=mode, lda_weight=0.0)
            adapt_model(model, torch.from_numpy(xs), torch.from_numpy(ys), options_for, progress=False)
            return time.perf_counter() - begin

        tuned = copy.deepcopy(base)
        finetune_s = calibrate(tuned, x, y, "finetune")
        put("MyoSem fine-tuned", k, dataclasses.replace(tests(tuned), seconds=round(finetune_s, 2)))
        calibrated = {"finetune": (copy.deepcopy(tuned), finetune_s)}
        both_s = finetune_s + calibrate(tuned, x, y, "anchors")
        put("MyoSem fine-tuned + anchors", k, dataclasses.replace(tests(tuned), seconds=round(both_s, 2)))
        calibrated["finetune+anchors"] = (tuned, both_s)
        anchored = copy.deepcopy(base)
        anchors_s = calibrate(anchored, x, y, "anchors")
        put("MyoSem anchors", k, dataclasses.replace(tests(anchored), seconds=round(anchors_s, 2)))
        calibrated["anchors"] = (anchored, anchors_s)
        if options.lda_weight > 0:  # the default calibration: its mode, then the person's LDA fused in
            fused, fused_s = copy.deepcopy(calibrated[options.mode][0]), calibrated[options.mode][1]
            begin = time.perf_counter()
            fuse_lda(fused, x, y, options.lda_weight)
            fused_s += time.perf_counter() - begin
            put(default_method(options), k, dataclasses.replace(tests(fused), seconds=round(fused_s, 2)))
        if "tcn" in bases:
            xt, yt, _ = wearing_windows(bases["tcn"], person.calibration, hop, reps)
            tcn = copy.deepcopy(bases["tcn"])
            tcn_s = calibrate(tcn, xt, yt, "finetune")
            put("TCN fine-tuned", k, dataclasses.replace(tests(tcn), seconds=round(tcn_s, 2)))
        start = time.perf_counter()
        xl, yl, _ = _windows(base, calibration_filtered, hop, reps)
        lda = HudginsLDA().fit(xl, yl)
        fit_s = time.perf_counter() - start

        put("per-person LDA", k, _lda_tests(lda, base, filtered_tests, hop, person.test_repetitions, fit_s))
        if person.repetitions is not None:  # the same calibrations, tested on every later repetition
            rest = tuple(r for r in person.repetitions if r > k)
            if "tcn" in bases:
                put("TCN fine-tuned" + REST, k, tests(tcn, reps=rest))
            put("MyoSem fine-tuned + anchors" + REST, k, tests(calibrated["finetune+anchors"][0], reps=rest))
            if options.lda_weight > 0:
                put(default_method(options) + REST, k, tests(fused, reps=rest))
            put("per-person LDA" + REST, k, _lda_tests(lda, base, filtered_tests, hop, rest, fit_s))
        say(
            f"  {person.name}, {k} repetition(s): "
            + ", ".join(f"{m} {v[str(k)]['r1']:.3f}" for m, v in out.items() if str(k) in v)
        )
    return out


def cross_person_lda(
    train: Sequence[Recording], people: Sequence[Person], model: Any, standardise: bool
) -> dict[str, float]:
    """Zero-shot classic reference: one LDA on the training people's windows (Hudgins features),
    tested on each new person; ``standardise``: each wearing's features z-scored by that wearing's
    own feature statistics (all its windows, labels unused), the classic per-person normalisation."""
    hop, spec = model.preprocessing.hop_ms, model.preprocessing.filter

    def wearings(recs: Sequence[Recording]) -> list[Any]:
        groups: dict[Any, list[Recording]] = {}
        for r in filter_recordings(recs, spec):
            groups.setdefault(person_key(r), []).append(r)
        return [_windows(model, g, hop) for g in groups.values()]

    def feats(x: np.ndarray) -> np.ndarray:
        f = lda.features(x)
        return (f - f.mean(0)) / (f.std(0) + 1e-9) if standardise else f

    parts = wearings(train)
    lda = HudginsLDA().fit(np.concatenate([x for x, _, _ in parts]), np.concatenate([y for _, y, _ in parts]))
    if standardise:
        lda.lda_ = ShrinkageLDA().fit(
            np.concatenate([feats(x) for x, _, _ in parts]), np.concatenate([y for _, y, _ in parts])
        )
    out = {}
    for person in people:
        hits, n = 0, 0
        for recs in person.tests.values():
            for x, y, ws in wearings(recs):
                keep = (
                    np.ones(len(y), bool)
                    if person.test_repetitions is None
                    else np.isin(ws.repetition, list(person.test_repetitions))
                )
                pred = lda.lda_.predict(feats(x))
                hits += int(np.sum(pred[keep] == y[keep]))
                n += int(keep.sum())
        out[person.name] = hits / max(n, 1)
    return out


# ----------------------------------------------------------------------------- datasets


def myo_people(folder: Path) -> tuple[Path, Path, list[Person]]:
    """The Myo armband folders (pre-training, evaluation) and its evaluation people."""
    from myostream.data.myo import read_myo_folder

    pre, evaluation = folder / "PreTrainingDataset", folder / "EvaluationDataset"
    if not pre.is_dir() or not evaluation.is_dir():
        raise MyostreamError(
            f"{str(folder)!r} is not the Myo armband dataset (it lacks PreTrainingDataset/EvaluationDataset)."
        )
    people = [
        Person(p.name, read_myo_folder(p / "training0"), {s: read_myo_folder(p / s) for s in ("Test0", "Test1")})
        for p in sorted(evaluation.iterdir())
        if (p / "training0").is_dir()
    ]
    return pre, evaluation, people


def myo_validation_people(pre: Path, subjects: Sequence[str]) -> list[Person]:
    """Pre-training people held out of the validation base: calibrate on their first repetitions,
    score on repetitions 3 and 4 of the same session (they have only one)."""
    from myostream.data.myo import read_myo_folder

    return [
        Person(s, read_myo_folder(pre / s), {"training0": read_myo_folder(pre / s)}, test_repetitions=(3, 4))
        for s in subjects
    ]


def db1_people(recordings: Sequence[Recording], subjects: Sequence[str], test_reps: tuple[int, ...]) -> list[Person]:
    return [
        Person(
            r.subject,
            [r],
            {"repetitions " + "-".join(map(str, (test_reps[0], test_reps[-1]))): [r]},
            test_repetitions=test_reps,
            repetitions=None if r.repetition is None else tuple(int(v) for v in np.unique(r.repetition) if v > 0),
        )
        for r in recordings
        if r.subject in subjects
    ]


# ----------------------------------------------------------------------------- running


def train_base(experiment: Any, out: Path, say: Say) -> Any:
    """``myostream train`` of ``experiment`` into ``out`` (reused when ``out`` already holds it)."""
    from myostream.model.checkpoint import load_checkpoint
    from myostream.train.run import train_run

    if (out / "results.json").is_file():
        say(f"reusing {out}")
    else:

        def log(line: str) -> None:
            say("  " + line.strip())

        start = time.perf_counter()
        train_run(experiment, out, device="cpu", progress=False, log=log)
        say(f"trained {out.name} in {time.perf_counter() - start:.0f} s")
    return load_checkpoint(out)


def summarise(rows: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean over people of every method at every number of repetitions."""
    values: dict[str, dict[str, dict[str, list[float]]]] = {}
    for person in rows.values():
        for method, by_k in person.items():
            for k, s in by_k.items():
                lists = values.setdefault(method, {}).setdefault(k, {"r1": [], "mrr": [], "seconds": []})
                for key in ("r1", "mrr", "seconds"):
                    lists[key].append(s[key])
    return {
        m: {k: {key: float(np.mean(v)) for key, v in d.items()} for k, d in by_k.items()} for m, by_k in values.items()
    }


#: PreTrainingDataset people held out of the validation base: they choose the settings
MYO_VALIDATION_PEOPLE = ("Female3", "Female9", "Male5", "Male11")
MYO_SHOTS = (0, 1, 2, 4)
DB1_SHOTS = (0, 1, 2, 3, 7)
DB1_TEST_REPETITIONS = (8, 9, 10)
#: the experiment DB1's bases train (and whose [adapt] table DB1's validation checks)
DB1_EXPERIMENT = "myosem-ninapro-db1-transfer"
#: DB1 people who choose DB1's calibration and are never reported (the other ten are, in two
#: folds); drawn once, before any was scored in this role: sorted(default_rng(100).permutation(subjects)[:4])
DB1_VALIDATION_PEOPLE = ("S4", "S12", "S14", "S15")
#: how the band is worn in the robustness check: (turn in electrodes, flipped)
WORN = ((1, False), (4, False), (0, True), (3, True), (0.5, False), (2.5, True))
ANCHOR_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
#: margins (summed z-scores) a turn must beat the band as worn by (0: the best candidate wins)
IDENTITY_MARGINS = (0.0, 0.5, 1.0, 2.0)
#: weights of the person's LDA fused into the calibrated model's scores (0: none)
LDA_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
#: calibration fine-tuning's (gain, noise) jitter tried on validation (AdaptOptions.gain, .noise)
CALIBRATION_AUGMENTS = ((0.0, 0.0), (0.2, 0.05), (0.4, 0.1))
#: the report's name for the base self-calibrated on each wearing's first seconds
SELF_CALIBRATED = "MyoSem, self-calibrated (no labels)"
#: confidences a window's own label needs to take part in a self-calibration (no labels)
SELF_CONFIDENCES = (0.0, 0.5, 0.8)
#: what a setting must gain on validation people (R@1) to replace a default
DEFAULT_CHANGE = 0.01
#: suffix of a calibrated method scored on every repetition after the calibration ones
#: (:attr:`Person.repetitions`) rather than on the fixed test repetitions
REST = ", tested on the rest"


def _variants(exp: Any) -> dict[str, Any]:
    """The recipe and what it is compared with on validation: without per-user normalisation
    and augmentation (the old recipe), and without augmentation."""
    from myostream.train.augment import Augmentation

    plain_data = dataclasses.replace(exp.data, normalisation="none")
    return {
        "recipe": exp,
        "no augmentation": dataclasses.replace(exp, augment=Augmentation()),
        "old recipe (no per-user normalisation, no augmentation)": dataclasses.replace(
            exp, data=plain_data, augment=Augmentation()
        ),
    }


@dataclass
class CalibrationCase:
    """A validation person calibrated on their first ``shots`` repetitions: the base, the
    calibration windows ``x, y`` and the windows ``tx, ty`` that score it."""

    base: Any
    x: np.ndarray
    y: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    shots: str


def choose_calibration(cases: Sequence[CalibrationCase], default: AdaptOptions, say: Say) -> dict[str, Any]:
    """The calibration mode and anchor weight, then the fine-tuning jitter, then the person's LDA
    weight, each on the mean R@1 of ``cases`` (over their numbers of repetitions); a setting
    replaces ``default``'s only when it gains :data:`DEFAULT_CHANGE`.

    Returns the tables (``calibration``, ``calibration_jitter``, ``lda_fusion``) and ``chosen``
    (``mode``, ``anchor_weight``, ``lda_weight``, ``gain``, ``noise``).
    """

    def calibrated(start: Any, case: CalibrationCase, options: AdaptOptions) -> Any:
        m = copy.deepcopy(start)
        adapt_model(m, torch.from_numpy(case.x), torch.from_numpy(case.y), options, progress=False)
        return m

    def means_of(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {key: {k: float(np.mean(v)) for k, v in by_k.items()} for key, by_k in table.items()}

    def overall(by_k: dict[str, float]) -> float:
        return float(np.mean(list(by_k.values())))

    def keep_default(means: dict[str, dict[str, float]], best: str, current: str, what: str) -> str:
        """``best``, unless it gains less than DEFAULT_CHANGE over ``current``."""
        if best != current and current in means and overall(means[best]) < overall(means[current]) + DEFAULT_CHANGE:
            say(
                f"validation: {what} {best} {overall(means[best]):.3f} against the default {current} "
                f"{overall(means[current]):.3f}, less than {DEFAULT_CHANGE:g} apart: the default stays"
            )
            return current
        return best

    calibration: dict[str, dict[str, list[float]]] = {}
    models: list[dict[str, Any]] = []
    for case in cases:
        tuned = calibrated(
            case.base, case, AdaptOptions(mode="finetune", lda_weight=0.0, gain=default.gain, noise=default.noise)
        )
        rows = {"finetune": retrieval(tuned, case.tx, case.ty).r1}
        mine = {"finetune": tuned}
        for w in ANCHOR_WEIGHTS:
            for mode, start in (("anchors", case.base), ("finetune+anchors", tuned)):
                m = calibrated(start, case, AdaptOptions(mode="anchors", anchor_weight=w, lda_weight=0.0))
                rows[f"{mode} {w:g}"] = retrieval(m, case.tx, case.ty).r1
                mine[f"{mode} {w:g}"] = m
        for key, v in rows.items():
            calibration.setdefault(key, {}).setdefault(case.shots, []).append(v)
        models.append(mine)
    means = means_of(calibration)
    # A default changes only for a real gain, as AdaBN is kept only for one: validation people
    # calibrate and test within one session, while the people reported may test on other days, so
    # a fraction of a point between modes here says nothing about them.
    current = default.mode if default.mode == "finetune" else f"{default.mode} {default.anchor_weight:g}"
    best = keep_default(means, max(means, key=lambda k: overall(means[k])), current, "calibration")
    mode, _, weight = best.partition(" ")
    anchor_weight = float(weight) if weight else default.anchor_weight
    # the chosen calibration's fine-tuning with each gain and noise jitter (anchors alone do not
    # train), chosen as the mode was, on R@1 without the LDA
    augments = CALIBRATION_AUGMENTS if mode != "anchors" else ((default.gain, default.noise),)
    jittered: dict[str, list[Any]] = {}
    jitter: dict[str, dict[str, list[float]]] = {}
    for mine, case in zip(models, cases):
        for gain, noise in augments:
            label = _augment_label(gain, noise)
            if (gain, noise) == (default.gain, default.noise):
                tuned = mine[best]  # the mode grid calibrated with the default
            else:
                these = AdaptOptions(mode=mode, anchor_weight=anchor_weight, lda_weight=0.0, gain=gain, noise=noise)
                tuned = calibrated(case.base, case, these)
            jittered.setdefault(label, []).append(tuned)
            jitter.setdefault(label, {}).setdefault(case.shots, []).append(retrieval(tuned, case.tx, case.ty).r1)
    jitter_means = means_of(jitter)
    best_augment = max(jitter_means, key=lambda a: overall(jitter_means[a]))
    augment = keep_default(
        jitter_means, best_augment, _augment_label(default.gain, default.noise), "fine-tuning jitter"
    )
    gain, noise = next((g, n) for g, n in augments if _augment_label(g, n) == augment)
    # the person's LDA fused into the chosen calibration's scores, at each weight (0: none)
    fusion: dict[str, dict[str, list[float]]] = {}
    for tuned, case in zip(jittered[augment], cases):
        for w in LDA_WEIGHTS:
            m = copy.deepcopy(tuned)
            if w > 0:
                fuse_lda(m, case.x, case.y, w)
            fusion.setdefault(f"{w:g}", {}).setdefault(case.shots, []).append(retrieval(m, case.tx, case.ty).r1)
    fused = means_of(fusion)
    lda_weight = keep_default(
        fused, max(fused, key=lambda w: overall(fused[w])), f"{default.lda_weight:g}", "LDA weight"
    )
    if lda_weight != "0" and overall(fused[lda_weight]) < overall(fused["0"]) + DEFAULT_CHANGE:
        say(f"validation: LDA fusion gains less than {DEFAULT_CHANGE:g} over none: not kept")
        lda_weight = "0"
    chosen = {
        "mode": mode,
        "anchor_weight": anchor_weight,
        "lda_weight": float(lda_weight),
        "gain": gain,
        "noise": noise,
    }
    say(f"validation chose the calibration {chosen}")
    return {
        "calibration": means,
        "calibration_jitter": {"calibration": best, "r1": jitter_means, "chosen": augment},
        "lda_fusion": {"calibration": f"{best}, {augment}", "r1": fused},
        "chosen": chosen,
    }


def validate_myo(pre: Path, work: Path, say: Say) -> dict[str, Any]:
    """Choose the recipe, the calibration mode and the anchor weight on pre-training people the
    validation bases never saw (calibrate on their first repetitions, score repetitions 3-4)."""
    from myostream.train.experiment import load_experiment

    exp = load_experiment("myosem-myo", data_folder=str(pre))
    exp = exp.with_protocol("cross-user")
    exp = dataclasses.replace(exp, protocol=dataclasses.replace(exp.protocol, test_subjects=MYO_VALIDATION_PEOPLE))
    people = myo_validation_people(pre, MYO_VALIDATION_PEOPLE)
    zero: dict[str, dict[str, float]] = {}
    bases = {}
    for name, variant in _variants(exp).items():
        bases[name] = model = train_base(variant, work / f"validation-{name.split(' ')[0]}", say)
        worn = float(np.mean([score_tests(model, p).r1 for p in people]))
        half = float(np.mean([score_tests(model, p).r1 for p in _worn(people, 0.5, False)]))
        zero[name] = {"as worn": worn, "turned half an electrode": half, "mean": (worn + half) / 2}
        say(f"validation, {name}: zero-shot R@1 {worn:.3f} as worn, {half:.3f} turned half an electrode")
    recipe = max(zero, key=lambda k: zero[k]["mean"])
    base = bases[recipe]
    # AdaBN at the input: the model's input statistics re-fitted on each wearer's first seconds
    adabn = float(np.mean([_adabn_score(base, p) for p in people]))
    say(f"validation, input statistics re-fitted per wearer (AdaBN): zero-shot R@1 {adabn:.3f}")
    # the orientation estimate's candidate turns: whole electrodes, or half steps too

    def worn_any_way(steps: int, margin: float) -> float:
        """Zero-shot R@1 of ``base`` on the people as worn, turned and flipped (:data:`WORN`)."""
        return float(
            np.mean(
                [
                    np.mean([score_tests(base, p, steps=steps, margin=margin).r1 for p in _worn(people, *w)])
                    for w in ((0, False), *WORN)
                ]
            )
        )

    orientation = {}
    for steps in (1, 2):
        orientation[str(steps)] = worn_any_way(steps, 0.0)
        say(
            f"validation, orientation in {steps} step(s) per electrode: zero-shot R@1 {orientation[str(steps)]:.3f} "
            "(as worn, turned and flipped)"
        )
    # how far a turn must beat the band as worn to be applied
    steps_chosen = int(max(orientation, key=orientation.__getitem__))
    margins = {}
    for margin in IDENTITY_MARGINS:
        margins[f"{margin:g}"] = worn_any_way(steps_chosen, margin) if margin else orientation[str(steps_chosen)]
        say(f"validation, orientation margin {margin:g}: zero-shot R@1 {margins[f'{margin:g}']:.3f}")
    margin_chosen = float(max(margins, key=margins.__getitem__))  # the first, smallest, on a tie
    cases = [
        CalibrationCase(
            base,
            *wearing_windows(base, person.calibration, base.preprocessing.hop_ms, list(range(1, k + 1)))[:2],
            *wearing_windows(base, next(iter(person.tests.values())), base.preprocessing.hop_ms, (3, 4))[:2],
            str(k),
        )
        for k in (1, 2)
        for person in people
    ]
    choice = choose_calibration(cases, AdaptOptions(), say)
    chosen: dict[str, Any] = {"recipe": recipe, **choice["chosen"]}
    mode, anchor_weight, gain, noise = chosen["mode"], chosen["anchor_weight"], chosen["gain"], chosen["noise"]
    # self-calibration: each person's first seconds labelled by the base itself calibrate it as
    # chosen above (no labels); kept only for a real gain over the base as it is
    own_options = AdaptOptions(mode=mode, anchor_weight=anchor_weight, gain=gain, noise=noise)
    self_cal = {"none": zero[recipe]["as worn"]}
    for c in SELF_CONFIDENCES:
        self_cal[f"{c:g}"] = float(
            np.mean([score_tests(base, p, self_confidence=c, options=own_options).r1 for p in people])
        )
        say(f"validation, self-calibrated on windows labelled with confidence >= {c:g}: R@1 {self_cal[f'{c:g}']:.3f}")
    best_c = max((k for k in self_cal if k != "none"), key=self_cal.__getitem__)
    chosen["self_confidence"] = float(best_c) if self_cal[best_c] >= self_cal["none"] + DEFAULT_CHANGE else None
    say(f"validation chose: {chosen}")
    return {
        "people": list(MYO_VALIDATION_PEOPLE),
        "zero_shot": zero,
        **choice,
        "chosen": chosen,
        "adabn": {"with": adabn, "without": zero[recipe]["as worn"]},
        "orientation_margin": {"r1": margins, "chosen": margin_chosen, "pipeline": IDENTITY_MARGIN},
        "self_calibration": {
            "r1": self_cal,
            "chosen": chosen["self_confidence"],
            "pipeline": SELF_CALIBRATION_CONFIDENCE,
        },
        "orientation_steps": {
            "r1": orientation,
            "chosen": int(max(orientation, key=orientation.__getitem__)),
            "pipeline": STEPS_PER_ELECTRODE,
        },
    }


def _augment_label(gain: float, noise: float) -> str:
    return f"gain {gain:g}, noise {noise:g}" if gain or noise else "no jitter"


def _adabn_score(model: Any, person: Person) -> float:
    """Zero-shot R@1 with the model's input statistics re-fitted on each test wearing's first seconds."""
    hits, n = 0.0, 0
    for recs in person.tests.values():
        x, y, fix = wearing_windows(model, recs, model.preprocessing.hop_ms, person.test_repetitions)
        own = copy.deepcopy(model)
        own.fit_input_stats(torch.from_numpy(first_of_wearing(model, recs, fix)))
        s = retrieval(own, x, y)
        hits, n = hits + s.r1 * s.n, n + s.n
    return hits / n


def run_myo(
    folder: Path,
    work: Path,
    options: AdaptOptions,
    say: Say,
    recipe: str = "recipe",
    margin: float = IDENTITY_MARGIN,
    self_confidence: float | None = None,
) -> dict[str, Any]:
    """The Myo armband section with the base ``recipe`` (a name of :func:`_variants`), the
    orientation ``margin`` and the self-calibration's confidence (None: none), all chosen on
    validation."""
    from myostream.train.experiment import load_experiment

    pre, evaluation, people = myo_people(folder)
    exp = load_experiment("myosem-myo-transfer", data_folder=str(pre)).with_test_data(str(evaluation))
    exp = _variants(exp)[recipe]
    bases = {
        "myosem": train_base(exp, work / "myo-myosem", say),
        "tcn": train_base(exp.with_variant("tcn"), work / "myo-tcn", say),
        "myosem-plain": train_base(
            _variants(exp)["old recipe (no per-user normalisation, no augmentation)"], work / "myo-myosem-plain", say
        ),
    }
    rows = {}
    for person in people:
        say(f"Myo {person.name}")
        rows[person.name] = evaluate_person(person, bases, MYO_SHOTS, options, say, margin, self_confidence)
    from myostream.data.myo import read_myo_folder

    pretraining = read_myo_folder(pre)
    lda0 = {
        f"cross-person LDA{', per-person standardised' if s else ''}": cross_person_lda(
            pretraining, people, bases["myosem"], s
        )
        for s in (False, True)
    }
    robust = rotated(bases["myosem"], people, say, margin, self_confidence, options)
    return {
        "rows": rows,
        "summary": summarise(rows),
        "cross_person_lda": lda0,
        "robustness": robust,
        "bases": {k: str(work / f"myo-{k}") for k in bases},
    }


def _worn(people: Sequence[Person], shift: float, mirror: bool) -> list[Person]:
    """The people with every test wearing recorded as if the band sat turned by ``shift`` electrodes
    (and flipped), by the ring map; calibration wearings as they were."""
    from myostream.stream.orientation import ring_matrix

    out = []
    for p in people:
        m = ring_matrix(p.calibration[0].n_channels, shift, mirror)
        tests = {
            k: [dataclasses.replace(r, emg=(np.asarray(r.emg, np.float32) @ m.T).astype(np.float32)) for r in recs]
            for k, recs in p.tests.items()
        }
        out.append(dataclasses.replace(p, tests=tests))
    return out


def rotated(
    model: Any,
    people: Sequence[Person],
    say: Say,
    margin: float = IDENTITY_MARGIN,
    self_confidence: float | None = None,
    options: AdaptOptions = AdaptOptions(),
) -> dict[str, dict[str, float]]:
    """Zero-shot R@1 when every test session is worn turned or flipped (simulated by the ring map),
    with and without estimating the orientation from the wearer's first seconds, and (with
    ``self_confidence``) estimated then self-calibrated on those seconds."""
    out: dict[str, dict[str, float]] = {}
    ways: dict[str, tuple[bool, float | None]] = {"estimated": (True, None), "not estimated": (False, None)}
    if self_confidence is not None:
        ways["estimated, self-calibrated"] = (True, self_confidence)
    for shift, mirror in ((0, False), *WORN):
        worn = _worn(people, shift, mirror)
        row = {}
        for way, (orient, confidence) in ways.items():
            scores = [
                score_tests(model, p, orient, margin=margin, self_confidence=confidence, options=options) for p in worn
            ]
            row[way] = sum(s.r1 * s.n for s in scores) / sum(s.n for s in scores)
        label = f"turned {shift:g} electrode(s)" + (", flipped" if mirror else "")
        out[label] = row
        say(f"  worn {label}: R@1 " + ", ".join(f"{v:.3f} ({k})" for k, v in row.items()))
    return out


def db1_reported_folds(subjects: Sequence[str], folds: int, seed: int) -> list[list[str]]:
    """The DB1 people reported, fold by fold: every subject but :data:`DB1_VALIDATION_PEOPLE`, in a
    seeded order cut into ``folds``."""
    from myostream.data.splits import fold_subjects

    reported = [s for s in subjects if s not in DB1_VALIDATION_PEOPLE]
    return [fold_subjects(reported, folds, fold, seed) for fold in range(folds)]


def _db1_experiment(folder: Path, held_out: Sequence[str]) -> Any:
    """The DB1 transfer experiment trained on every subject but ``held_out``."""
    from myostream.train.experiment import load_experiment

    exp = load_experiment(DB1_EXPERIMENT, data_folder=str(folder)).with_protocol("cross-user")
    return dataclasses.replace(exp, protocol=dataclasses.replace(exp.protocol, test_subjects=tuple(held_out), folds=1))


def validate_db1(folder: Path, work: Path, say: Say) -> dict[str, Any]:
    """Choose DB1's calibration settings on DB1 people who are never reported
    (:data:`DB1_VALIDATION_PEOPLE`): a validation base trains on the other subjects; each
    validation person calibrates on their first repetition (or two) and scores on the rest. The
    settings to beat are the DB1 experiment's ``[adapt]`` table (where empty, :class:`AdaptOptions`'
    defaults, chosen on the Myo armband)."""
    from myostream.data.ninapro import read_ninapro_folder

    recordings = read_ninapro_folder(folder, database="db1", exercises=(1,))
    exp = _db1_experiment(folder, DB1_VALIDATION_PEOPLE)
    base = train_base(exp, work / f"db1-without-{'-'.join(DB1_VALIDATION_PEOPLE)}-myosem", say)
    hop = base.preprocessing.hop_ms
    cases = []
    for person in db1_people(recordings, DB1_VALIDATION_PEOPLE, DB1_TEST_REPETITIONS):
        for k in (1, 2):
            rest = [r for r in person.repetitions or () if r > k]
            cases.append(
                CalibrationCase(
                    base,
                    *wearing_windows(base, person.calibration, hop, list(range(1, k + 1)))[:2],
                    *wearing_windows(base, person.calibration, hop, rest)[:2],
                    str(k),
                )
            )
    choice = choose_calibration(cases, AdaptOptions(**exp.adapt), say)
    return {"people": list(DB1_VALIDATION_PEOPLE), **choice, "experiment": exp.adapt}


def run_db1(folder: Path, work: Path, options: AdaptOptions, say: Say) -> dict[str, Any]:
    from myostream.data.ninapro import read_ninapro_folder
    from myostream.train.experiment import load_experiment

    recordings = read_ninapro_folder(folder, database="db1", exercises=(1,))
    protocol = load_experiment(DB1_EXPERIMENT, data_folder=str(folder)).protocol
    subjects = sorted({r.subject for r in recordings})
    rows: dict[str, Any] = {}
    lda0: dict[str, dict[str, float]] = {}
    for fold, tested in enumerate(db1_reported_folds(subjects, protocol.folds, protocol.seed)):
        exp = _db1_experiment(folder, tested)
        name = f"db1-without-{'-'.join(tested)}"  # the cache says whom its bases never saw
        bases = {
            "myosem": train_base(exp, work / f"{name}-myosem", say),
            "tcn": train_base(exp.with_variant("tcn"), work / f"{name}-tcn", say),
        }
        people = db1_people(recordings, tested, DB1_TEST_REPETITIONS)
        for person in people:
            say(f"DB1 fold {fold + 1} {person.name}")
            rows[person.name] = evaluate_person(person, bases, DB1_SHOTS, options, say)
        train = [r for r in recordings if r.subject not in tested]  # the validation people train too
        for s in (False, True):
            key = f"cross-person LDA{', per-person standardised' if s else ''}"
            lda0.setdefault(key, {}).update(cross_person_lda(train, people, bases["myosem"], s))
    return {"rows": rows, "summary": summarise(rows), "cross_person_lda": lda0, "options": dataclasses.asdict(options)}


# ----------------------------------------------------------------------------- report

#: issue 12's targets, as (dataset, what, method, repetitions, threshold, baseline method to beat by `margin`)
TARGETS = (
    (
        "myo",
        "zero-shot R@1 >= 0.93, ahead of the cross-person LDA with per-person standardisation",
        "MyoSem",
        "0",
        0.93,
    ),
    (
        "myo",
        "no labels, the bar of zero-shot: R@1 >= 0.93 after self-calibrating on the wearer's first 35 s",
        SELF_CALIBRATED,
        "0",
        0.93,
    ),
    ("myo", "one repetition (about 35 s): R@1 >= 0.96, >= 2 points above the per-person LDA", "DEFAULT", "1", 0.96),
    ("myo", "all of training0: R@1 >= 0.98, >= 2 points above the per-person LDA", "DEFAULT", "4", 0.98),
    ("db1", "zero-shot: >= 5 points above the cross-person LDA with per-person standardisation", "MyoSem", "0", None),
    (
        "db1",
        "one repetition, tested on the other nine (the issue's protocol): R@1 >= 0.60",
        "DEFAULT" + REST,
        "1",
        0.60,
    ),
)
METHOD_OF_MODE = {
    "anchors": "MyoSem anchors",
    "finetune": "MyoSem fine-tuned",
    "finetune+anchors": "MyoSem fine-tuned + anchors",
}


def default_method(options: AdaptOptions) -> str:
    """The report's name for what ``myostream adapt`` does with ``options``."""
    return METHOD_OF_MODE[options.mode] + (" + LDA fusion" if options.lda_weight > 0 else "")


def targets(results: dict[str, Any], options: AdaptOptions) -> list[dict[str, Any]]:
    rows = []
    for dataset, what, method, k, threshold in TARGETS:
        if dataset not in results:
            continue
        res = results[dataset]
        own = (
            AdaptOptions(**res["options"]) if "options" in res else options
        )  # DB1 calibrates as its own validation chose
        method = method.replace("DEFAULT", default_method(own))
        if method not in res["summary"]:  # results of a run without that protocol
            continue
        value = res["summary"][method][k]["r1"]
        if k == "0":
            lda = float(np.mean(list(res["cross_person_lda"]["cross-person LDA, per-person standardised"].values())))
            ok = (value >= threshold if threshold else True) and value >= lda + (0.05 if dataset == "db1" else 0.0)
            versus = f"cross-person LDA, per-person standardised {lda:.3f}"
        else:
            reference = "per-person LDA" + (REST if method.endswith(REST) else "")
            lda = res["summary"][reference][k]["r1"]
            ok = value >= threshold and (dataset == "db1" or value >= lda + 0.02)
            versus = f"{reference} {lda:.3f}"
        rows.append(
            {"dataset": dataset, "target": what, "method": method, "value": value, "versus": versus, "met": bool(ok)}
        )
    if "robustness" in results.get("myo", {}):  # the band worn turned or flipped: within 2 points of as worn
        robust = results["myo"]["robustness"]
        as_worn = robust["turned 0 electrode(s)"]
        for way in [w for w in as_worn if w != "not estimated"]:
            worst = min((k for k in robust if k != "turned 0 electrode(s)"), key=lambda k: robust[k][way])
            rows.append(
                {
                    "dataset": "myo",
                    "target": "worn turned by any whole or half electrode, or flipped: within 2 points of as worn",
                    "method": f"MyoSem, orientation {way} (worst: {worst})",
                    "value": robust[worst][way],
                    "versus": f"as worn {as_worn[way]:.3f}",
                    "met": bool(robust[worst][way] >= as_worn[way] - 0.02),
                }
            )
    return rows


def _table(summary: dict[str, Any], shots: Sequence[int], key: str) -> list[str]:
    head = "| method | " + " | ".join(f"{k} rep." if k else "zero-shot" for k in shots) + " |"
    lines = [head, "|---" * (len(shots) + 1) + "|"]
    for method, by_k in summary.items():
        cells = [f"{by_k[str(k)][key]:.3f}" if str(k) in by_k else "" for k in shots]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def curves_png(summary: dict[str, Any], shots: Sequence[int], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for method, by_k in summary.items():
        ks = [k for k in shots if str(k) in by_k]
        if len(ks) < 2 or method.endswith(REST):
            continue
        style = "--" if "LDA" in method or "TCN" in method else "-"
        ax.plot(ks, [by_k[str(k)]["r1"] for k in ks], style, marker="o", label=method)
    ax.set_xlabel("calibration repetitions per gesture (0 = zero-shot)")
    ax.set_ylabel("EMG -> text R@1 on the test sessions")
    ax.set_xticks(list(shots))
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _agrees(choice: dict[str, Any], constant: str) -> str:
    """Whether validation's ``choice["chosen"]`` is what the live pipeline runs (``constant``)."""
    if choice["chosen"] == choice["pipeline"]:
        return "the live pipeline's"
    return f"**not** the live pipeline's {choice['pipeline']:g} (`{constant}`): change it"


def _intro(name: str, res: dict[str, Any]) -> str:
    """Who a dataset section's people are and how they are tested."""
    if name == "myo":
        return (
            f"The {len(res['rows'])} EvaluationDataset people: bases trained on the PreTrainingDataset people; each "
            "calibrates from `training0` and is tested on `Test0` and `Test1`, recorded on other days."
        )
    return (
        f"The {len(res['rows'])} DB1 subjects outside the validation people ({', '.join(DB1_VALIDATION_PEOPLE)}), in "
        "two folds of unseen subjects; each fold's bases train on every other subject, the validation people "
        "included. Each calibrates from their first repetitions and is tested on repetitions "
        f"{DB1_TEST_REPETITIONS[0]}-{DB1_TEST_REPETITIONS[-1]}."
    )


def _calibration_lines(v: dict[str, Any]) -> list[str]:
    """The tables :func:`choose_calibration` chose from, as markdown lines."""
    lines = ["", "| calibration | 1 rep. | 2 rep. |", "|---|---|---|"]
    lines += [f"| {k} | {d['1']:.3f} | {d['2']:.3f} |" for k, d in v["calibration"].items()]
    j = v["calibration_jitter"]
    lines += [
        "",
        f"**{j['calibration']}** with each gain and noise jitter while it fine-tunes "
        "(`AdaptOptions.gain`, `.noise`: the base recipe's augmentation without turns), chosen as the "
        f"calibration was, on R@1 without the LDA; chosen **{j['chosen']}**:",
        "",
        "| fine-tuning jitter | 1 rep. | 2 rep. |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {d['1']:.3f} | {d['2']:.3f} |" for k, d in j["r1"].items()]
    lines += [
        "",
        f"The person's LDA (Hudgins features of the same calibration windows) fused into the scores of "
        f"**{v['lda_fusion']['calibration']}** at each weight (0: the embedding alone):",
        "",
        "| LDA weight | 1 rep. | 2 rep. |",
        "|---|---|---|",
    ]
    lines += [f"| {w} | {d['1']:.3f} | {d['2']:.3f} |" for w, d in v["lda_fusion"]["r1"].items()]
    return lines


def _calibration_choice(chosen: dict[str, Any]) -> str:
    return (
        f"calibration **{chosen['mode']}**, anchor weight **{chosen['anchor_weight']:g}**, fine-tuning jitter "
        f"**{_augment_label(chosen['gain'], chosen['noise'])}**, LDA fusion weight **{chosen['lda_weight']:g}**"
    )


def markdown(results: dict[str, Any], options: AdaptOptions, command: str) -> str:
    lines = [
        "# Transfer to new people: zero-shot and few-shot",
        "",
        f"Generated by `{command}` in {results['wall_s'] / 60:.1f} min ({results['machine']}). "
        "Every number below comes from `results.json` next to this file. EMG->text R@1 (MRR in `results.json`) "
        "over every test window, mean over people.",
        "",
        "Each test wearing is prepared as the live pipeline prepares a new wearer: its own level (per-user "
        f"normalisation) and, for the Myo armband, its orientation, from its first {FIRST_SECONDS:g} s of "
        "signal, unlabelled. Calibration windows are prepared the same way. The per-person LDA (Hudgins "
        "features, shrinkage LDA) trains on exactly the calibration windows MyoSem calibrates on. "
        "\"+ LDA fusion\" is `myostream adapt`'s default: the calibrated model's class scores plus that same "
        "person's LDA log posterior (`myostream/model/fusion.py`), at the weight chosen on validation.",
        "",
        "## Targets",
        "",
        "| dataset | target | method | value | compared with | met |",
        "|---|---|---|---|---|---|",
    ]
    for t in results["targets"]:
        lines.append(
            f"| {t['dataset']} | {t['target']} | {t['method']} | {t['value']:.3f} | {t['versus']} | "
            f"{'yes' if t['met'] else '**no**'} |"
        )
    if "validation" in results:
        v = results["validation"]
        lines += [
            "",
            "## Settings chosen on validation people",
            "",
            f"Pre-training people {', '.join(v['people'])} are held out of validation bases trained on the other "
            "18 (`myostream train myosem-myo` with those test subjects); they calibrate on repetition 1 (or 1-2) "
            "and score on repetitions 3-4 of the same session. Nothing below was chosen on the people reported.",
            "",
            "Base recipes are compared on the validation people's zero-shot R@1 as they wore the band and as "
            "if it sat turned by half an electrode (how a band sits differs from person to person); the mean "
            "chooses.",
            "",
            "| base recipe | as worn | turned half an electrode | mean |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {x['as worn']:.3f} | {x['turned half an electrode']:.3f} | {x['mean']:.3f} |"
            for k, x in v["zero_shot"].items()
        ]
        lines += _calibration_lines(v)
        if "adabn" in v:
            lines += [
                "",
                "AdaBN-style per-person statistics inside the network, tried at the input layer (the model's "
                "input statistics re-fitted on each wearer's first seconds, unlabelled): zero-shot R@1 "
                f"{v['adabn']['with']:.3f} against {v['adabn']['without']:.3f} without; not kept unless it gains "
                "a point (the per-user level already gives the model each person's statistics at its input).",
            ]
        if "orientation_steps" in v:
            o = v["orientation_steps"]
            agree = _agrees(o, "STEPS_PER_ELECTRODE")
            lines += [
                "",
                "Orientation steps: the estimate weighing whole-electrode turns only, or half steps too, "
                "zero-shot R@1 on the validation people worn as they were and turned or flipped as in the table "
                f"below: whole turns {o['r1']['1']:.3f}, half steps {o['r1']['2']:.3f}; chosen "
                f"{o['chosen']} step(s) per electrode, {agree}.",
            ]
        if "orientation_margin" in v:
            m = v["orientation_margin"]
            agree = _agrees(m, "IDENTITY_MARGIN")
            lines += [
                "",
                "Orientation margin: how far (summed z-scores of the evidence) a turn must beat the band as "
                "worn to be applied, the same zero-shot R@1 mean: "
                + ", ".join(f"{k} {r:.3f}" for k, r in m["r1"].items())
                + f"; chosen {m['chosen']:g} (used for the people below), {agree}.",
            ]
        if "self_calibration" in v:
            sc = v["self_calibration"]
            kept = f"chosen {sc['chosen']:g}" if sc["chosen"] is not None else "not kept"
            agree = _agrees(sc, "SELF_CALIBRATION_CONFIDENCE") if sc["chosen"] is not None else ""
            lines += [
                "",
                "Self-calibration without labels: each wearing's first "
                f"{FIRST_SECONDS:g} s (what the live pipeline estimates the orientation from) labelled by the "
                f"base itself; the windows it labels with at least a confidence calibrate it as **{v['chosen']['mode']}** "
                "(`myostream.train.adapt.self_calibrate`). Zero-shot R@1 on the validation people: none "
                f"{sc['r1']['none']:.3f}, "
                + ", ".join(f"confidence >= {k} {r:.3f}" for k, r in sc["r1"].items() if k != "none")
                + f"; {kept}"
                + (f", {agree}" if agree else "")
                + ".",
            ]
        lines += [
            "",
            f"A calibration default changes only when another setting beats it by at least "
            f"{100 * DEFAULT_CHANGE:g} point of R@1 (mean of 1 and 2 repetitions): these people calibrate and "
            "test within one session, the people reported on other days, so a smaller difference here is noise "
            "for them (the same rule keeps AdaBN out).",
        ]
        lines += [
            "",
            f"Chosen: recipe **{v['chosen']['recipe']}**, {_calibration_choice(v['chosen'])} "
            "(`myostream adapt`'s defaults, `AdaptOptions`).",
        ]
    if "db1_validation" in results:
        v = results["db1_validation"]
        said = AdaptOptions(**v["experiment"])  # what a DB1 base calibrates as, unless told otherwise
        agree = (
            "what its `[adapt]` table says"
            if all(x == getattr(said, k) for k, x in v["chosen"].items())
            else f"**not** what its `[adapt]` table says ({v['experiment'] or 'nothing'}): change it"
        )
        lines += [
            "",
            "## DB1 settings chosen on DB1 validation people",
            "",
            f"DB1's calibration is chosen on DB1 people, not carried over from the Myo armband: "
            f"{', '.join(v['people'])} are held out of a validation base trained on the other ten and are never "
            "reported below; they calibrate on repetition 1 (or 1-2) and score on every later repetition. The "
            f"settings to beat are the DB1 experiment's `[adapt]` table (`models/experiments/{DB1_EXPERIMENT}.toml`; "
            f"unset keys: the defaults above), by at least {100 * DEFAULT_CHANGE:g} point.",
            *_calibration_lines(v),
            "",
            f"Chosen for DB1: {_calibration_choice(v['chosen'])}: {agree} (what `myostream adapt` does with "
            "a DB1 base).",
        ]
    for name, shots, title in (("myo", MYO_SHOTS, "Myo armband"), ("db1", DB1_SHOTS, "NinaPro DB1")):
        if name not in results:
            continue
        res = results[name]
        summary = {m: d for m, d in res["summary"].items() if not m.endswith(REST)}
        rest = {m.removesuffix(REST): d for m, d in res["summary"].items() if m.endswith(REST)}
        lines += [
            "",
            f"## {title}",
            "",
            _intro(name, res),
            "",
            f"![R@1 against calibration repetitions]({name}.png)",
            "",
            "R@1 (mean over people):",
            "",
            *_table(summary, shots, "r1"),
            "",
            "MRR:",
            "",
            *_table(summary, shots, "mrr"),
        ]
        if rest:
            lines += [
                "",
                "The same calibrations tested on every repetition after the calibration ones (1 rep.: the "
                "other nine; the protocol of the issue's per-person LDA reference of 0.50), R@1:",
                "",
                *_table(rest, [k for k in shots if k], "r1"),
                "",
                "MRR:",
                "",
                *_table(rest, [k for k in shots if k], "mrr"),
            ]
        lines += [
            "",
            "Wall time of one calibration, seconds (CPU, one thread):",
            "",
            *_table(
                {m: d for m, d in summary.items() if any(v["seconds"] for v in d.values())},
                [k for k in shots if k],
                "seconds",
            ),
            "",
            "Zero-shot classic references (one LDA on the training people):",
            "",
            "| reference | R@1 |",
            "|---|---|",
        ]
        lines += [f"| {k} | {np.mean(list(d.values())):.3f} |" for k, d in res["cross_person_lda"].items()]
        lines += [
            "",
            "Zero-shot R@1 per person:",
            "",
            "| person | " + " | ".join(res["rows"][next(iter(res["rows"]))]) + " |",
        ]
        methods = [m for m in res["rows"][next(iter(res["rows"]))] if "0" in res["rows"][next(iter(res["rows"]))][m]]
        lines = lines[:-1] + ["| person | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        for person, row in res["rows"].items():
            lines.append(f"| {person} | " + " | ".join(f"{row[m]['0']['r1']:.3f}" for m in methods) + " |")
        if "robustness" in res:
            lines += [
                "",
                "The same test sessions as if the band had been worn turned or flipped (channels moved by "
                "the ring map; half turns interpolate neighbouring electrodes):",
                "",
            ]
            ways = list(next(iter(res["robustness"].values())))
            names = {
                "estimated": "orientation estimated",
                "not estimated": "not estimated",
                "estimated, self-calibrated": "estimated, then self-calibrated (no labels)",
            }
            lines += ["| worn | " + " | ".join(names[w] for w in ways) + " |", "|---" * (len(ways) + 1) + "|"]
            lines += [
                f"| {k} | " + " | ".join(f"{d[w]:.3f}" for w in ways) + " |" for k, d in res["robustness"].items()
            ]
    return "\n".join(lines) + "\n"


def report_transfer(
    data: str | Path,
    out: str | Path,
    work: str | Path,
    datasets: Sequence[str] = ("myo", "db1"),
    validate: bool = True,
    say: Say = print,
) -> dict[str, Any]:
    """Run everything the report shows and write ``out/README.md``, ``results.json`` and a PNG per dataset."""
    import shlex
    import sys

    dataset_folders(data, datasets, "transfer")
    data, out, work = Path(data), Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    start = time.perf_counter()
    results: dict[str, Any] = {"machine": f"{platform.platform()}, {torch.get_num_threads()} torch thread"}
    options = AdaptOptions()
    if validate and "myo" in datasets:
        results["validation"] = validate_myo(data / "myo-armband" / "PreTrainingDataset", work, say)
        chosen = results["validation"]["chosen"]
        settings = {key: chosen[key] for key in ("mode", "anchor_weight", "lda_weight", "gain", "noise")}
        if settings != {key: getattr(options, key) for key in settings}:
            say(f"note: validation chose {chosen}, the defaults are {options}; using the choice")
            options = dataclasses.replace(options, **settings)
    if "myo" in datasets:
        v = results.get("validation", {})
        recipe = v["chosen"]["recipe"] if v else "recipe"
        margin = v["orientation_margin"]["chosen"] if v else IDENTITY_MARGIN
        self_confidence = v["chosen"].get("self_confidence") if v else SELF_CALIBRATION_CONFIDENCE
        results["myo"] = run_myo(data / "myo-armband", work, options, say, recipe, margin, self_confidence)
        curves_png(results["myo"]["summary"], MYO_SHOTS, "Myo armband: new people, other days", out / "myo.png")
    if "db1" in datasets:
        from myostream.train.experiment import load_experiment

        # DB1's bases calibrate as their experiment's [adapt] says, unless DB1's validation disagrees
        db1_options = AdaptOptions(**load_experiment(DB1_EXPERIMENT).adapt)
        if validate:
            results["db1_validation"] = validate_db1(data / "ninapro-db1", work, say)
            chosen = results["db1_validation"]["chosen"]
            if chosen != {key: getattr(db1_options, key) for key in chosen}:
                say(
                    f"note: DB1's validation chose {chosen}, its experiment's [adapt] says {db1_options}; using the choice"
                )
                db1_options = dataclasses.replace(db1_options, **chosen)
        results["db1"] = run_db1(data / "ninapro-db1", work, db1_options, say)
        curves_png(results["db1"]["summary"], DB1_SHOTS, "NinaPro DB1: unseen subjects", out / "db1.png")
    results["options"] = dataclasses.asdict(options)
    results["targets"] = targets(results, options)
    results["wall_s"] = round(time.perf_counter() - start, 1)
    args = sys.argv[3:] if sys.argv[1:3] == ["report", "transfer"] else []
    command = ("myostream report transfer " + shlex.join(args)).strip()
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out / "README.md").write_text(markdown(results, options, command))
    return results
