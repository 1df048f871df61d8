"""``myostream report rejection``: how right "no confident match" is, on real recordings.

A model's rejection rule (:mod:`myostream.rejection`) withholds a window's first
description when its class scores do not clear a threshold fitted on the model's
validation windows for a target false-accept rate. This report trains small models with
``myostream train``'s own code and measures, on test windows only, the accuracy of the
hops the rule accepts against the fraction it accepts, under five conditions:

- **held gestures**: test windows whose samples all carry one label;
- **transitions**: test windows that straddle a gesture and rest (the ``majority`` label
  is the truth; NinaPro DB1's labels are per sample);
- **rest between gestures**: NinaPro DB1 windows whose majority is rest, which the DB1
  models do not rank (no candidate is right: every accepted hop is a false accept);
- **unseen gestures, described**: the cross-class protocol's held-out gestures, whose
  descriptions are candidates (zero-shot);
- **unseen gestures, not in the catalog**: the same windows ranked against the training
  gestures only (the hand does something the catalog does not hold).

Models: NinaPro DB1 exercise A under the repetition protocol (repetitions 2, 5 and 7
test) and cross-class (3 of 12 movements held out); the Myo armband PreTrainingDataset
cross-user (4 people test; validation on held-out people, then the refit on everyone,
whose rule comes from the model before the refit) and cross-class (2 of 6 movements held
out). Beside MyoSem, the classic per-person LDA on Hudgins features with the same rule on
its discriminant scores (temperature 1: the softmax is its posterior), fitted on the same
validation windows, wherever a person's own training windows exist.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myostream.data.windows import WindowSet, extract_windows
from myostream.errors import MyostreamError
from myostream.model.lda import HudginsLDA
from myostream.model.retrieval import RetrievalModel
from myostream.records import concatenate
from myostream.rejection import DEFAULT_FAR, MEASURES, Rejection
from myostream_reports import dataset_folders

Say = Callable[[str], object]

#: NinaPro DB1 experiment and the protocols it is trained under here
DB1_EXPERIMENT = "myosem-ninapro-db1"
#: Myo armband experiment (PreTrainingDataset); epochs cut to what a 2-core CPU trains in minutes
MYO_EXPERIMENT = "myosem-myo"
MYO_EPOCHS = {"stage2": 6, "stage3_a": 4, "stage3_b": 2}
#: points per drawn curve
CURVE_POINTS = 200
#: very low scores for classes a person's LDA never saw (finite: the rule refuses infinities)
ABSENT = -1e6


@dataclass
class Condition:
    """Windows of one condition: their class scores ``[N, K]`` and true column (-1: no candidate is right)."""

    title: str
    scores: np.ndarray
    truth: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return (self.scores.argmax(axis=1) == self.truth) & (self.truth >= 0)


def operating_point(rule: Rejection, cond: Condition) -> dict[str, Any]:
    """What the rule does to a condition's hops: how many it accepts and how many of those are right."""
    return accept_stats(np.asarray(rule.accept(cond.scores), bool), cond.correct)


def accept_stats(accepted: np.ndarray, ok: np.ndarray) -> dict[str, Any]:
    """Hops accepted and their accuracy, from which hops were accepted and which were right."""
    n_acc = int(accepted.sum())
    return {
        "windows": int(len(ok)),
        "top1": float(ok.mean()),
        "accepted": float(accepted.mean()),
        "accuracy_accepted": float(ok[accepted].mean()) if n_acc else float("nan"),
        "false_accept_rate": float(accepted[~ok].mean()) if (~ok).any() else float("nan"),
        "correct_kept": float(accepted[ok].mean()) if ok.any() else float("nan"),
    }


def curve(rule: Rejection, cond: Condition) -> dict[str, list[float]]:
    """Accuracy of the accepted hops against the fraction accepted, the threshold swept over the
    condition's own confidences (describes the trade-off; chooses nothing)."""
    conf = np.asarray(rule.confidence(cond.scores))
    ok = cond.correct[np.argsort(-conf, kind="stable")]
    k = np.unique(np.linspace(1, len(ok), min(CURVE_POINTS, len(ok))).astype(int))
    hits = np.cumsum(ok)[k - 1]
    return {"accepted": (k / len(ok)).round(4).tolist(), "accuracy": (hits / k).round(4).tolist()}


def evaluate(rule: Rejection, conditions: dict[str, Condition]) -> dict[str, Any]:
    return {
        name: {"title": c.title, **operating_point(rule, c), "curve": curve(rule, c)} for name, c in conditions.items()
    }


# ----------------------------------------------------------------------------- windows


def pure(ws: WindowSet, indices: np.ndarray) -> np.ndarray:
    """Whether every sample of each window carries one label (per-sample labels of its recording)."""
    out = np.empty(len(indices), bool)
    for i, w in enumerate(indices):
        labels = ws.recordings[int(ws.recording[w])].labels
        s = int(ws.start[w])
        out[i] = bool(np.all(labels[s : s + ws.length] == labels[s]))
    return out


def rest_windows(ws: WindowSet, repetitions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Windows over the same (prepared) recordings whose majority is rest, in ``repetitions``
    (rest belongs to the movement before it), and their subjects."""
    rest = extract_windows(ws.recordings, ws.window_ms, 1000.0 * _hop(ws) / ws.rate, rest=True, classes=("rest",))
    keep = np.flatnonzero(np.isin(rest.repetition, list(repetitions)))
    return rest.data(keep), rest.subject[keep]


def _hop(ws: WindowSet) -> int:
    """The hop (samples) a window set was cut with: the smallest step between windows of one recording."""
    steps = np.diff(ws.start)[np.diff(ws.recording) == 0]
    return int(steps[steps > 0].min())


def spliced_transitions(ws: WindowSet, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows straddling the boundary of consecutive gesture files of each test session, played back to
    back as ``myostream replay`` plays a Myo session; their labels index ``ws.class_ids`` (majority)."""
    chosen = sorted(set(ws.recording[indices].tolist()))
    sessions: dict[tuple[str, str], list[int]] = {}
    for r in chosen:
        rec = ws.recordings[r]
        sessions.setdefault((rec.subject, rec.session), []).append(r)
    xs, ys = [], []
    for recs in sessions.values():
        joined = concatenate([ws.recordings[r] for r in recs])
        cut = extract_windows([joined], ws.window_ms, 1000.0 * _hop(ws) / ws.rate, classes=ws.class_ids)
        straddle = np.flatnonzero(~pure(cut, np.arange(len(cut))))
        xs.append(cut.data(straddle))
        ys.append(cut.y[straddle])
    return np.concatenate(xs), np.concatenate(ys)


# ----------------------------------------------------------------------------- models


def myosem_scores(model: Any, x: np.ndarray) -> np.ndarray:
    from myostream.train.evaluate import window_scores

    return window_scores(model, torch.from_numpy(np.ascontiguousarray(x))).numpy().astype(np.float64)


def validation_of(exp: Any, prepared: Any) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation windows ``myostream train`` carved out of the protocol's training part."""
    from myostream.train.data import validation_split

    p = exp.protocol
    return validation_split(prepared.windows, prepared.split.train, p.validation_fraction, p.seed, by=p.validation)


def restricted_rule(
    val_scores: np.ndarray, val_truth: np.ndarray, columns: np.ndarray, temperature: float, fitted_on: str
) -> Rejection:
    """A rule fitted as training fits one, for a catalog holding only ``columns`` of the candidates."""
    to_restricted = np.full(val_scores.shape[1], -1)
    to_restricted[columns] = np.arange(len(columns))
    s = val_scores[:, columns]
    correct = (s.argmax(axis=1) == to_restricted[val_truth]) & (to_restricted[val_truth] >= 0)
    return Rejection.fit(s, correct, DEFAULT_FAR, temperature=temperature, fitted_on=fitted_on)


class PersonLDA:
    """One per-person Hudgins LDA per subject, scoring windows of that subject over the set's classes."""

    def __init__(self, ws: WindowSet, train: np.ndarray) -> None:
        self.ws = ws
        self.k = len(ws.class_ids)
        self.models: dict[str, HudginsLDA] = {}
        subjects = ws.subject
        for s in sorted(set(subjects[train])):
            mine = train[subjects[train] == s]
            if len(np.unique(ws.y[mine])) >= 2:
                self.models[s] = HudginsLDA().fit(ws.data(mine), ws.y[mine])

    def scores(self, x: np.ndarray, subjects: np.ndarray) -> np.ndarray:
        out = np.full((len(x), self.k), ABSENT)
        for s, lda in self.models.items():
            rows = np.flatnonzero(subjects == s)
            if len(rows):
                out[np.ix_(rows, lda.lda_.classes_)] = lda.lda_.decision_function(lda.features(x[rows]))
        return out

    def covers(self, subjects: np.ndarray) -> np.ndarray:
        return np.isin(subjects, list(self.models))


def lda_rule(lda: PersonLDA, ws: WindowSet, val: np.ndarray, columns: np.ndarray | None = None) -> Rejection:
    """The LDA's rule: fitted on the same validation windows as MyoSem's, on its discriminant scores."""
    keep = val[lda.covers(ws.subject[val])]
    s = lda.scores(ws.data(keep), ws.subject[keep])
    truth = ws.y[keep]
    if columns is not None:
        return restricted_rule(s, truth, columns, 1.0, f"{len(keep)} validation windows, training classes only")
    return Rejection.fit(
        s, s.argmax(axis=1) == truth, DEFAULT_FAR, temperature=1.0, fitted_on=f"{len(keep)} validation windows"
    )


def train(exp: Any, out: Path, say: Say) -> tuple[Any, float]:
    """``myostream train`` of ``exp`` into ``out`` (reused when there); the model and its training wall time."""
    from myostream_reports.transfer import train_base

    model = train_base(exp, out, say)
    record = json.loads((out / "results.json").read_text())
    if record["run"]["protocol"] != json.loads(json.dumps(dataclasses.asdict(exp.protocol))):
        raise MyostreamError(
            f"{str(out)!r} holds a model trained under another protocol; remove it or pass another --work folder."
        )
    return model, float(record["wall_s"]["total"])


def _epochs(exp: Any, stage2: int, stage3_a: int, stage3_b: int) -> Any:
    cfg = exp.model
    model = dataclasses.replace(
        cfg,
        stage2=dataclasses.replace(cfg.stage2, epochs=stage2),
        stage3=dataclasses.replace(cfg.stage3, epochs_a=stage3_a, epochs_b=stage3_b),
    )
    return dataclasses.replace(exp, model=model)


def model_block(
    title: str,
    model: Any,
    wall: float,
    rule: Rejection,
    conditions: dict[str, Condition],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "title": title,
        "rule": rule.to_dict(),
        "train_wall_s": round(wall, 1),
        "class_ids": list(model.class_ids),
        "conditions": evaluate(rule, conditions),
        **(extra or {}),
    }


# ----------------------------------------------------------------------------- NinaPro DB1


def run_db1(folder: Path, work: Path, say: Say) -> dict[str, Any]:
    from myostream.train.data import prepare_split
    from myostream.train.experiment import load_experiment

    base = load_experiment(DB1_EXPERIMENT, data_folder=str(folder))
    results: dict[str, Any] = {}

    # repetition protocol: held gestures, transitions, rest between gestures
    exp = base.with_protocol("repetition")
    prepared = prepare_split(exp)
    model, wall = train(exp, work / "db1-repetition", say)
    start = time.perf_counter()
    ws, split = prepared.windows, prepared.split
    train_idx, val = validation_of(exp, prepared)
    test = split.test
    one_label = pure(ws, test)
    x_test, y_test = ws.data(test), ws.y[test]
    x_rest, rest_subjects = rest_windows(ws, split.test_repetitions)
    none_right = np.full(len(x_rest), -1)
    titles = {
        "held": "held gestures",
        "transition": "transitions (gesture and rest in one window)",
        "rest": "rest between gestures (no rest class)",
    }

    def conditions(test_scores: np.ndarray, rest_scores: np.ndarray) -> dict[str, Condition]:
        return {
            "held": Condition(titles["held"], test_scores[one_label], y_test[one_label]),
            "transition": Condition(titles["transition"], test_scores[~one_label], y_test[~one_label]),
            "rest": Condition(titles["rest"], rest_scores, none_right),
        }

    say(f"DB1 repetition: {one_label.sum()} held, {(~one_label).sum()} transition, {len(x_rest)} rest windows")
    results["repetition"] = model_block(
        "MyoSem, repetition protocol",
        model,
        wall,
        model.rejection,
        conditions(myosem_scores(model, x_test), myosem_scores(model, x_rest)),
    )
    results["repetition"]["eval_wall_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    lda = PersonLDA(ws, train_idx)
    rule = lda_rule(lda, ws, val)
    results["repetition_lda"] = {
        "title": "per-person LDA, repetition protocol",
        "rule": rule.to_dict(),
        "conditions": evaluate(
            rule, conditions(lda.scores(x_test, ws.subject[test]), lda.scores(x_rest, rest_subjects))
        ),
        "wall_s": round(time.perf_counter() - start, 1),
    }

    # cross-class: unseen gestures
    results["cross_class"], results["cross_class_lda"] = cross_class(
        base.with_protocol("cross-class"), work / "db1-cross-class", say
    )
    return results


def cross_class(exp: Any, out: Path, say: Say) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unseen gestures: described (zero-shot candidates) and not in the catalog (training classes only)."""
    from myostream.train.data import prepare_split

    prepared = prepare_split(exp)
    model, wall = train(exp, out, say)
    start = time.perf_counter()
    ws, split = prepared.windows, prepared.split
    train_idx, val = validation_of(exp, prepared)
    held = list(split.held_out_classes)
    seen = np.array([i for i, c in enumerate(ws.class_ids) if c not in held])
    x_test, y_test = ws.data(split.test), ws.y[split.test]
    s_test = myosem_scores(model, x_test)
    s_val = myosem_scores(model, ws.data(val))
    temperature = model.config.stage3.temperature
    rule = restricted_rule(
        s_val, ws.y[val], seen, temperature, f"{len(val)} validation windows, training classes only as candidates"
    )
    none_right = np.full(len(y_test), -1)
    say(f"{out.name}: held out {', '.join(held)}; {len(y_test)} test windows")
    described = model_block(
        "MyoSem, cross-class",
        model,
        wall,
        model.rejection,
        {"unseen_described": Condition("unseen gestures, described (zero-shot)", s_test, y_test)},
        {"held_out_classes": held},
    )
    absent = evaluate(
        rule, {"unseen_absent": Condition("unseen gestures, not in the catalog", s_test[:, seen], none_right)}
    )
    described["conditions"].update(absent)
    described["rule_without_held_out"] = rule.to_dict()
    described["eval_wall_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    lda = PersonLDA(ws, train_idx)
    covered = lda.covers(ws.subject[split.test])
    lda_rule_seen = lda_rule(lda, ws, val, columns=seen)
    s_lda = lda.scores(x_test[covered], ws.subject[split.test][covered])[:, seen]
    lda_block = {
        "title": "per-person LDA, cross-class",
        "rule": lda_rule_seen.to_dict(),
        "conditions": evaluate(
            lda_rule_seen,
            {"unseen_absent": Condition("unseen gestures, not in the catalog", s_lda, none_right[covered])},
        ),
        "wall_s": round(time.perf_counter() - start, 1),
    }
    return described, lda_block


# ----------------------------------------------------------------------------- Myo armband


def run_myo(folder: Path, work: Path, say: Say) -> dict[str, Any]:
    from myostream.train.data import prepare_split
    from myostream.train.experiment import load_experiment

    base = _epochs(load_experiment(MYO_EXPERIMENT, data_folder=str(folder / "PreTrainingDataset")), **MYO_EPOCHS)
    results: dict[str, Any] = {}
    prepared = prepare_split(base)
    model, wall = train(base, work / "myo-cross-user", say)
    start = time.perf_counter()
    ws, split = prepared.windows, prepared.split
    test = split.test
    x_test = ws.data(test)
    s_test = myosem_scores(model, x_test)
    x_tr, y_tr = spliced_transitions(ws, test)
    conditions = {
        "held": Condition("held gestures (new people)", s_test, ws.y[test]),
        "transition": Condition("file boundaries of a replayed session (spliced)", myosem_scores(model, x_tr), y_tr),
    }
    say(f"Myo cross-user: {len(test)} test windows of {', '.join(split.held_out_subjects)}; {len(y_tr)} spliced")
    results["cross_user"] = model_block(
        "MyoSem, cross-user (refit)",
        model,
        wall,
        model.rejection,
        conditions,
        {"test_subjects": [s.split("/")[-1] for s in split.held_out_subjects]},
    )
    results["cross_user"]["eval_wall_s"] = round(time.perf_counter() - start, 1)
    # validation by runs of the training people (no refit), so a per-person LDA has each person's own windows
    protocol = dataclasses.replace(
        base.protocol, name="cross-class", validation="runs", refit=False, test_subjects=None
    )
    exp = dataclasses.replace(base, protocol=protocol)
    results["cross_class"], results["cross_class_lda"] = cross_class(exp, work / "myo-cross-class", say)
    return results


def _rule(model: RetrievalModel, checkpoint: Path) -> Rejection:
    """The checkpoint's rejection rule (a model trained without validation windows has none)."""
    if model.rejection is None:
        raise MyostreamError(
            f"Checkpoint {str(checkpoint)!r} has no rejection rule (it was trained without validation "
            "windows); train it with validation so the report can score its rule."
        )
    return model.rejection


def run_myo_people(folder: Path, base: Path, work: Path, say: Say) -> dict[str, Any]:
    """Per person: ``myostream adapt`` of the cross-user model on each EvaluationDataset person's
    ``training0`` (its last repetition held out, where the rule's threshold is re-fitted), scored on
    the person's ``Test0`` and ``Test1`` sessions (other days): without calibration (base rule), adapted
    with the base's rule, adapted with the person's rule."""
    from myostream.data.myo import read_myo_folder
    from myostream.data.prepare import prepare_recordings
    from myostream.model.checkpoint import load_checkpoint
    from myostream.train.adapt import AdaptOptions, adapt_sessions, model_windows

    evaluation = folder / "EvaluationDataset"
    people = sorted(p.name for p in evaluation.iterdir() if (p / "training0").is_dir())
    base_model = load_checkpoint(base)
    columns = {
        "base": "no calibration, the model's rule",
        "adapted_base_rule": "adapted, the model's rule",
        "adapted_person_rule": "adapted, the person's rule",
    }
    masks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in columns}
    rows, seconds = [], []
    for person in people:
        out = work / f"myo-person-{person}"
        if not (out / "config.json").is_file():
            start = time.perf_counter()
            adapt_sessions(
                base, evaluation / person / "training0", out, options=AdaptOptions(), progress=False, say=lambda m: None
            )
            seconds.append(time.perf_counter() - start)
        adapted = load_checkpoint(out)
        record = json.loads((out / "adaptation.json").read_text())["rejection"]
        base_rule, person_rule = _rule(base_model, base), _rule(adapted, out)
        row: dict[str, Any] = {"person": person, "refitted": record["refitted"], "person_rule": person_rule.to_dict()}
        for key, model, rule in (
            ("base", base_model, base_rule),
            ("adapted_base_rule", adapted, base_rule),
            ("adapted_person_rule", adapted, person_rule),
        ):
            recordings = [r for s in ("Test0", "Test1") for r in read_myo_folder(evaluation / person / s)]
            prepared = prepare_recordings(recordings, model.preprocessing)
            ws, _ = model_windows(model, prepared, model.preprocessing.hop_ms)
            scores = myosem_scores(model, ws.data())
            accepted, ok = np.asarray(rule.accept(scores), bool), scores.argmax(axis=1) == ws.y
            masks[key].append((accepted, ok))
            row[key] = accept_stats(accepted, ok)
        rows.append(row)
        say(
            f"{person}: "
            + ", ".join(
                f"{columns[k]} {100 * row[k]['accuracy_accepted']:.1f} % of {100 * row[k]['accepted']:.0f} %"
                for k in columns
            )
        )
    pooled = {
        k: {
            "title": t,
            **accept_stats(np.concatenate([a for a, _ in masks[k]]), np.concatenate([o for _, o in masks[k]])),
        }
        for k, t in columns.items()
    }
    return {"base": str(base), "people": rows, "pooled": pooled, "adapt_wall_s": [round(v, 1) for v in seconds]}


# ----------------------------------------------------------------------------- output


#: one colour per condition in every figure (MyoSem solid, LDA dashed and hatched)
CONDITION_COLORS = {
    "held": "tab:blue",
    "transition": "tab:orange",
    "rest": "tab:gray",
    "unseen_described": "tab:purple",
    "unseen_absent": "tab:red",
}


def curves_png(res: dict[str, Any], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.8), dpi=110, gridspec_kw={"width_ratios": [1.2, 1]})
    bars: list[tuple[str, float, str, bool]] = []
    for key, block in res.items():
        lda = key.endswith("_lda")
        for name, c in block["conditions"].items():
            label = f"{'LDA' if lda else 'MyoSem'}: {c['title']}"
            color = CONDITION_COLORS.get(name, "black")
            if c["top1"] > 0:  # a condition where some hop can be right draws a curve
                left.plot(
                    c["curve"]["accepted"], c["curve"]["accuracy"], "--" if lda else "-", color=color, label=label
                )
                left.plot([c["accepted"]], [c["accuracy_accepted"]], "o", color=color)
            bars.append((label, c["accepted"], color, lda))
    left.set_xlabel("fraction of hops accepted (the threshold swept)")
    left.set_ylabel("accuracy of the accepted hops")
    left.set_xlim(0, 1.01)
    left.set_ylim(0, 1.02)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="lower left")
    left.set_title("accuracy vs acceptance on test windows (dots: the rule fitted on validation)", fontsize=9)
    y = np.arange(len(bars))
    right.barh(y, [b[1] for b in bars], color=[b[2] for b in bars], hatch=None)
    for yi, b in zip(y, bars):
        if b[3]:
            right.barh([yi], [b[1]], color="none", edgecolor="white", hatch="//", linewidth=0)
    right.set_yticks(y, [b[0] for b in bars], fontsize=7)
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_xlabel(f"hops accepted by the rule (target false-accept rate {DEFAULT_FAR:.0%})")
    right.grid(alpha=0.3, axis="x")
    right.set_title("hops accepted (grey, red: no candidate is right)", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(v: float) -> str:
    return "–" if v != v else f"{100 * v:.1f}"


def markdown(results: dict[str, Any], command: str) -> str:
    lines = [
        "# No confident match: the rejection rule on real recordings",
        "",
        f"Generated by `{command}` in {results['wall_s'] / 60:.1f} min ({results['machine']}). Every number "
        "comes from `results.json` next to this file.",
        "",
        "A window's first description is shown only when the rule accepts its class scores "
        "(`myostream/rejection.py`); otherwise the live window says *no confident match*. The rule's measure "
        "(margin, softmax probability or top-1 cosine) and threshold are fitted by `myostream train` on the "
        f"model's validation windows for a target false-accept rate of {DEFAULT_FAR:.0%} (the default): of the "
        "validation windows whose first description is wrong, that fraction is still accepted.",
        "",
        "## What chose what",
        "",
        "- **Measure and threshold**: each model's validation windows (`myostream train`'s validation split of the "
        "training part; the Myo cross-user model's validation people, with the model as it was before the refit "
        "on training + validation people, whose rule it keeps). Never test windows.",
        "- **Default false-accept rate**: the validation curves below (the test conditions were not looked at).",
        "- **Catalog without the held-out gestures**: a rule fitted the same way on the same validation windows "
        "with the training gestures as the only candidates.",
        "- **Per-person LDA** (Hudgins features, shrinkage LDA, trained on each person's training windows): the "
        "same rule fitted on the same validation windows, on its discriminant scores.",
        "- Test windows are only scored. The curves sweep the threshold over a condition's own windows to show the "
        "trade-off; the dot on each is the rule fitted on validation.",
        "",
        "## Validation: which measure, which false-accept rate",
        "",
        "Fraction of correct validation windows each measure keeps at the target rate (AUROC of correct vs wrong "
        "windows in brackets); the kept measure in bold:",
        "",
        "| model | " + " | ".join(MEASURES) + " |",
        "|---" * (len(MEASURES) + 1) + "|",
    ]
    for dataset, res in _datasets(results):
        for block in res.values():
            rule = block["rule"]
            cells = []
            for m in MEASURES:
                c = rule["comparison"].get(m)
                cell = "–" if c is None else f"{100 * c['accepted_correct']:.1f} ({c['auroc']:.3f})"
                cells.append(f"**{cell}**" if m == rule["measure"] else cell)
            lines.append(f"| {dataset}: {block['title']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The kept measure at other target rates on validation: correct windows kept / accuracy of the "
        "accepted windows (%):",
        "",
        "| model | " + " | ".join(f"FAR {100 * p['far']:g} %" for p in _first_curve(results)) + " |",
        "|---" * (len(_first_curve(results)) + 1) + "|",
    ]
    for dataset, res in _datasets(results):
        for block in res.values():
            rule = block["rule"]
            cells = [f"{_pct(p['accepted_correct'])} / {_pct(_accuracy(rule, p))}" for p in rule["curve"]]
            lines.append(f"| {dataset}: {block['title']} | " + " | ".join(cells) + " |")
    lines += ["", results["default_reason"], ""]
    for dataset, res in _datasets(results):
        lines += [
            f"## {dataset}",
            "",
            f"![accuracy of accepted hops vs acceptance]({results['png'][dataset]})",
            "",
            "At the default rule: windows, top-1 accuracy of all hops, hops accepted, accuracy of the accepted "
            "hops, false-accept rate (accepted among the wrong ones) and correct hops kept, all in %:",
            "",
            "| model | condition | windows | top-1 | accepted | accuracy accepted | false accepts | correct kept |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for block in res.values():
            for c in block["conditions"].values():
                lines.append(
                    f"| {block['title']} | {c['title']} | {c['windows']} | {_pct(c['top1'])} | "
                    f"{_pct(c['accepted'])} | {_pct(c['accuracy_accepted'])} | "
                    f"{_pct(c['false_accept_rate'])} | {_pct(c['correct_kept'])} |"
                )
        notes = [
            f"{b['title']}: held out {', '.join(b['held_out_classes'])}"
            for b in res.values()
            if "held_out_classes" in b
        ]
        notes += [
            f"{b['title']}: test people {', '.join(b['test_subjects'])}" for b in res.values() if "test_subjects" in b
        ]
        walls = [f"{b['title']} {b['train_wall_s'] / 60:.1f} min" for b in res.values() if "train_wall_s" in b]
        evals = [f"{b['title']} {b['eval_wall_s']:.0f} s" for b in res.values() if "eval_wall_s" in b]
        evals += [f"{b['title']} {b['wall_s']:.0f} s" for b in res.values() if "wall_s" in b]
        lines += [
            "",
            *(f"- {n}" for n in notes),
            f"- training wall time (`myostream train` on this machine's CPU, when the model was trained; the "
            f"report reuses models in its work folder): {', '.join(walls)}",
            f"- measuring (and fitting the LDAs): {', '.join(evals)}",
            "",
        ]
    if "myo_people" in results:
        lines += people_markdown(results["myo_people"])
    lines += results["notes"]
    return "\n".join(lines) + "\n"


def people_markdown(res: dict[str, Any]) -> list[str]:
    adapt = res["adapt_wall_s"]
    lines = [
        "## Per person: the rule re-fitted after calibration (Myo armband)",
        "",
        "`myostream adapt` of the Myo cross-user model on each EvaluationDataset person's `training0` session "
        "(repetitions 1-3 adapt; the held-out repetition 4 re-fits the rule's threshold, the model's measure "
        "and target kept), scored on the person's `Test0` and `Test1` sessions, recorded on other days. "
        "All people pooled, in %:",
        "",
        "| | hops | top-1 | accepted | accuracy accepted | false accepts | correct kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res["pooled"].values():
        lines.append(
            f"| {c['title']} | {c['windows']} | {_pct(c['top1'])} | {_pct(c['accepted'])} | "
            f"{_pct(c['accuracy_accepted'])} | {_pct(c['false_accept_rate'])} | {_pct(c['correct_kept'])} |"
        )
    kept = [p["person"] for p in res["people"] if not p["refitted"]]
    lines += [
        "",
        f"- People: {', '.join(p['person'] for p in res['people'])}"
        + (f"; kept the model's threshold (too few wrong held-out windows): {', '.join(kept)}" if kept else "")
        + ". Per person in `results.json`.",
        f"- Adaptation wall time per person: {min(adapt):.0f}-{max(adapt):.0f} s"
        if adapt
        else "- Adapted checkpoints reused from the work folder.",
        "",
    ]
    return lines


def _datasets(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    names = {"db1": "NinaPro DB1", "myo": "Myo armband"}
    return [(names[k], results[k]) for k in ("db1", "myo") if k in results]


def _first_curve(results: dict[str, Any]) -> list[dict[str, Any]]:
    for _, res in _datasets(results):
        for block in res.values():
            return block["rule"]["curve"]
    return []


def _accuracy(rule: dict[str, Any], point: dict[str, Any]) -> float:
    kept, wrong = point["accepted_correct"] * rule["n_correct"], point["accepted_wrong"] * rule["n_wrong"]
    return kept / (kept + wrong) if kept + wrong else float("nan")


def default_reason(results: dict[str, Any]) -> str:
    """Why the default false-accept rate: the validation curves of the MyoSem models, in numbers."""
    rows = []
    for _, res in _datasets(results):
        for key, block in res.items():
            if not key.endswith("_lda"):
                by_far = {p["far"]: p for p in block["rule"]["curve"]}
                rows.append(
                    (
                        by_far[0.05]["accepted_correct"],
                        by_far[0.1]["accepted_correct"],
                        by_far[0.2]["accepted_correct"],
                        _accuracy(block["rule"], by_far[0.1]),
                        _accuracy(block["rule"], by_far[0.2]),
                    )
                )
    if not rows:
        return ""
    a = np.array(rows)
    return (
        f"Default {DEFAULT_FAR:.0%}: on the MyoSem models' validation windows, moving from 10 % to 5 % withholds "
        f"{100 * (a[:, 1] - a[:, 0]).mean():.1f} points more of the correct hops (mean; "
        f"{100 * a[:, 0].mean():.1f} % kept at 5 % against {100 * a[:, 1].mean():.1f} % at 10 %), while moving "
        f"to 20 % keeps {100 * (a[:, 2] - a[:, 1]).mean():.1f} points more of them at a validation accuracy of "
        f"the accepted hops of {100 * a[:, 4].mean():.1f} % instead of {100 * a[:, 3].mean():.1f} %. A live "
        "display that blanks most correct hops is as useless as one that is often wrong; 10 % is the middle of "
        "that trade-off. `Rejection.fit(..., target_far=...)` sets another."
    )


def report_rejection(
    data: str | Path,
    out: str | Path,
    work: str | Path,
    datasets: Sequence[str] = ("db1", "myo"),
    say: Say = print,
) -> dict[str, Any]:
    """Train (or reuse from ``work``) the models, measure, and write ``out/README.md``, ``results.json`` and PNGs."""
    needed = dataset_folders(data, datasets, "rejection")
    data, out, work = Path(data), Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": f"{platform.platform()}, {torch.get_num_threads()} torch thread",
        "target_far": DEFAULT_FAR,
        "png": {},
    }
    if "db1" in datasets:
        results["db1"] = run_db1(needed["db1"], work, say)
        results["png"]["NinaPro DB1"] = "db1.png"
        curves_png(results["db1"], "NinaPro DB1 exercise A", out / "db1.png")
    if "myo" in datasets:
        results["myo"] = run_myo(needed["myo"], work, say)
        start_people = time.perf_counter()
        results["myo_people"] = run_myo_people(needed["myo"], work / "myo-cross-user", work, say)
        results["myo_people"]["wall_s"] = round(time.perf_counter() - start_people, 1)
        results["png"]["Myo armband"] = "myo.png"
        curves_png(results["myo"], "Myo armband (Côté-Allard PreTrainingDataset)", out / "myo.png")
    results["default_reason"] = default_reason(results)
    results["notes"] = [
        "## Notes",
        "",
        "- Windows are scored one by one. The live window applies the rule to the scores it shows, which the app "
        "smooths over hops (`--smoothing`); the effect of smoothing on the rule is not measured here.",
        "- The Myo files hold one gesture each: its transition rows splice consecutive files of a test session as "
        "`myostream replay` plays them, not transitions a person made. NinaPro DB1's are recorded.",
        "- The Myo cross-user people have no training windows of their own, so no per-person LDA is scored on them.",
    ]
    results["wall_s"] = round(time.perf_counter() - start, 1)
    args = sys.argv[3:] if sys.argv[1:3] == ["report", "rejection"] else []
    command = ("myostream report rejection " + shlex.join(args)).strip()
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out / "README.md").write_text(markdown(results, command))
    return results
