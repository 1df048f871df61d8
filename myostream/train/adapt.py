"""Per-user adaptation: fine-tune a trained model on a user's calibration sessions.

``myostream adapt --model CKPT --sessions DIR`` reads the user's session files, holds
one repetition out (the last by default), scores the model on it, adapts, scores again
and writes a new checkpoint in the same format (the live app loads it like any other).

What adapts: stage 3 again, lightly. The class prototypes (the text side) stay frozen,
so the class list, the descriptions and free-text search are exactly the trained
ones; only the EMG side moves towards the user. Phase A trains the semantic query head
(projection and queries) on the frozen encoder; phase B also unfreezes the encoder's
last layer at a lower rate. The loss is stage 3's own (InfoNCE of ``z`` against all
prototypes, temperature and ``lambda_aux`` CE from the checkpoint's config).

Normaliser: by default the per-channel input statistics are re-fitted on the user's
adaptation windows before training (``normalizer="refit"``). A new placement of the
band changes every channel's gain and the skin's impedance; re-fitting absorbs that
for free. On the Myo armband people (measured by the former ``adapt --report myo``,
which ``myostream report transfer`` superseded) it lifted the mean held-out R@1 on its
own (0.879 -> 0.894) and after fine-tuning (0.965 kept vs 0.973 re-fitted; 0.873 vs
0.921 for the person the base fits worst).
``normalizer="keep"`` keeps the trained statistics.

Fine-tuning sees each batch with every channel's gain jittered and white noise added
(``AdaptOptions.gain``, ``AdaptOptions.noise``: the base recipe's ``[augment]`` without
turns, since the band sits as the person calibrated it). A calibration of one or two
repetitions is a few hundred windows of one day; tomorrow's contact and impedance differ,
and the jitter keeps the fine-tuned head from fitting today's exact levels. The strength was
chosen on the transfer report's validation people.

The sessions' samples are prepared as the checkpoint's preprocessing says (its causal
filter, then the user's own level when the model normalises per user, as the live
pipeline does), are cut into the model's windows (majority label), and every class is
capped at the median class count (rest dominates a calibration session) in both the
adaptation and the held-out windows. Session classes the model does not know are
left out (their prototypes would need the text model); they are reported.

After adaptation the model's rejection rule (:mod:`myostream.rejection`) is re-fitted on the
held-out repetition: the person's own scores set the threshold of "no confident match".
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.data.prepare import filter_recordings, person_levels, prepare_recordings, resample_recordings
from myostream.data.splits import repetition_split
from myostream.data.windows import WindowSet, extract_windows
from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.model.fusion import LDAFusion
from myostream.model.losses import info_nce
from myostream.model.retrieval import RetrievalModel
from myostream.paths import check_output_dir
from myostream.preprocess import FilterSpec
from myostream.records import NonFinite, Recording
from myostream.train.augment import Augmentation, augmented
from myostream.train.evaluate import embed_windows, evaluate_model, fit_rejection, window_scores
from myostream.train.experiment import CalibrationMode
from myostream.train.loop import LossFn
from myostream.train.stage3 import fit_two_phases, stage3_loss

log = logging.getLogger(__name__)

NORMALIZERS = ("refit", "keep")
#: what calibration changes: the person's class centres as anchors, fine-tuning, or fine-tuning then anchors
MODES: tuple[str, ...] = get_args(CalibrationMode)
#: calibration fine-tuning's gain jitter and noise (see the module docstring); chosen on the
#: transfer report's validation people
CALIBRATION_GAIN = 0.4
CALIBRATION_NOISE = 0.1
#: where progress lines go (print, or a logger's method)
Say = Callable[[str], object]
#: text-encoder files a checkpoint may carry (stage 1 saves them next to the weights)
_TEXT_ENCODER_FILES = ("text_encoder.json", "text_encoder.safetensors")


@dataclass(frozen=True)
class AdaptOptions:
    """How much and what adapts.

    ``mode``: ``"anchors"`` moves the calibrated classes' prototypes towards the person's own
    class centres in the embedding space (``anchor_weight`` of the way; no training, the
    model stays as it is); ``"finetune"`` trains, ``epochs_a`` epochs of the head only, then
    ``epochs_b`` of head + the last ``unfreeze_layers`` encoder layers at ``lr_b``;
    ``"finetune+anchors"`` fine-tunes, then anchors. ``lda_weight`` > 0: a shrinkage LDA on
    Hudgins features of the same windows is fused into the class scores at that weight
    (:class:`~myostream.model.fusion.LDAFusion`); 0 ranks by the cosine alone. ``gain`` and
    ``noise``: fine-tuning batches augmented as :class:`~myostream.train.augment.Augmentation`
    says (0 and 0: none).
    """

    mode: str = "finetune+anchors"  # chosen on validation people by `myostream report transfer`
    anchor_weight: float = 0.25  # chosen on validation people by `myostream report transfer`
    lda_weight: float = 0.5  # chosen on validation people by `myostream report transfer`
    epochs_a: int = 12
    epochs_b: int = 8
    lr: float = 1e-3
    lr_b: float = 3e-4
    unfreeze_layers: int = 1
    batch_size: int = 64
    #: hop between adaptation windows (None: the model's live hop, so adaptation sees windows as live)
    hop_ms: float | None = None
    normalizer: str = "refit"
    seed: int = 0
    gain: float = CALIBRATION_GAIN
    noise: float = CALIBRATION_NOISE

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MyostreamError(f"Adaptation mode {self.mode!r} is unknown; use one of {', '.join(MODES)}.")
        if not 0.0 <= self.anchor_weight <= 1.0:
            raise MyostreamError(f"anchor_weight = {self.anchor_weight} must lie in [0, 1].")
        if not 0.0 <= self.lda_weight < float("inf"):
            raise MyostreamError(f"lda_weight = {self.lda_weight} must be 0 (no LDA fusion) or more.")
        if self.normalizer not in NORMALIZERS:
            raise MyostreamError(
                f"Normaliser mode {self.normalizer!r} is unknown; use one of {', '.join(NORMALIZERS)}."
            )
        if self.epochs_a < 0 or self.epochs_b < 0 or self.epochs_a + self.epochs_b == 0:
            raise MyostreamError("Adaptation needs at least one epoch (epochs_a + epochs_b >= 1, neither negative).")
        if (self.hop_ms is not None and not self.hop_ms > 0) or self.batch_size < 1:
            raise MyostreamError("Adaptation needs hop_ms > 0 and batch_size >= 1.")
        if not (0.0 <= self.gain < float("inf") and 0.0 <= self.noise < float("inf")):
            raise MyostreamError(f"Calibration gain = {self.gain} and noise = {self.noise} must be 0 (none) or more.")

    @property
    def augmentation(self) -> Augmentation:
        """What fine-tuning does to each batch: gain and noise, never a turn."""
        return Augmentation(gain=self.gain, noise=self.noise)

    @classmethod
    def for_model(cls, model: RetrievalModel, epochs: int | None = None, **settings: Any) -> AdaptOptions:
        """How ``model`` calibrates by default (:func:`calibration_defaults`), changed by ``settings``
        (and ``epochs``, as :meth:`with_epochs`): what ``myostream adapt`` runs."""
        settings = {**calibration_defaults(model), **settings}
        return cls(**settings) if epochs is None else cls.with_epochs(epochs, **settings)

    @classmethod
    def with_epochs(cls, epochs: int, **kw: Any) -> AdaptOptions:
        """``epochs`` in all, three fifths head-only (phase A), the rest with the encoder's tail."""
        if epochs < 1:
            raise MyostreamError(f"--epochs is {epochs}; give at least 1.")
        a = max(1, round(0.6 * epochs))
        return cls(epochs_a=a, epochs_b=epochs - a, **kw)


@dataclass
class AdaptResult:
    """An adapted model with its before/after scores on the held-out windows."""

    model: RetrievalModel
    before: dict[str, Any]
    after: dict[str, Any]
    history: list[dict[str, Any]]
    n_adapt: int
    n_test: int
    seconds: float
    options: AdaptOptions
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record (also stored in the adapted checkpoint's metadata)."""
        return {
            "before": self.before,
            "after": self.after,
            "n_adapt_windows": self.n_adapt,
            "n_test_windows": self.n_test,
            "seconds": round(self.seconds, 2),
            "options": dataclasses.asdict(self.options),
            **self.extra,
        }


# ---------------------------------------------------------------------------- sessions


def read_sessions(path: str | Path, nonfinite: NonFinite = "error") -> list[Recording]:
    """Every recording in a folder (calibration sessions ``*.h5``, or any dataset folder
    :func:`~myostream.data.readers.read_dataset` reads: XDF, tables, ...), or one recording file.
    ``nonfinite``: what to do with NaN samples (see :class:`~myostream.records.Recording`)."""
    from myostream.data.readers import detect_dataset_format, read_dataset, read_recording

    path = Path(path)
    if path.is_file():
        return [read_recording(path, nonfinite=nonfinite)]
    if not path.is_dir():
        raise MyostreamError(
            f"Sessions folder {str(path)!r} does not exist; give the folder `myostream record` wrote into."
        )
    if detect_dataset_format(path) is None:
        raise MyostreamError(
            f"Sessions folder {str(path)!r} holds no session .h5 files; record some with `myostream record --out {path}`."
        )
    return read_dataset(path, nonfinite=nonfinite)


def check_recordings(model: RetrievalModel, recordings: Sequence[Recording]) -> None:
    """Every recording must have the model's channel count and rate."""
    cfg = model.config
    for r in recordings:
        if r.n_channels != cfg.n_channels or abs(r.rate - cfg.rate) > 1e-6 * cfg.rate:
            raise MyostreamError(
                f"Session {r.source or r.name!r} has {r.n_channels} channels at {r.rate:g} Hz but model {cfg.name!r} "
                f"expects {cfg.n_channels} channels at {cfg.rate:g} Hz; record with the armband the model was "
                "trained for, or train a model for this setup."
            )


def model_windows(model: RetrievalModel, recordings: Sequence[Recording], hop_ms: float) -> tuple[WindowSet, list[str]]:
    """The model's windows over (filtered) recordings, labelled by the model's class ids,
    and the recordings' classes the model does not know (left out)."""
    known = set(model.class_ids)
    present = dict.fromkeys(n for r in recordings for n in r.label_names)
    unknown = [c for c in present if c not in known]
    windows = extract_windows(recordings, model.config.window_ms, hop_ms, classes=model.class_ids)
    if len(windows) == 0:
        raise MyostreamError(
            f"The sessions hold no labelled windows of the model's classes ({', '.join(model.class_ids)}); "
            "record a protocol whose gestures the model knows."
        )
    return windows, unknown


def balanced(y: np.ndarray, indices: np.ndarray, seed: int = 0) -> np.ndarray:
    """``indices`` with every class capped at the median class count (seeded, order kept)."""
    classes, counts = np.unique(y[indices], return_counts=True)
    cap = int(np.median(counts))
    rng = np.random.default_rng(seed)
    keep = []
    for c in classes:
        mine = indices[y[indices] == c]
        keep.append(mine if len(mine) <= cap else rng.choice(mine, cap, replace=False))
    return np.sort(np.concatenate(keep))


# ------------------------------------------------------------------------------ scoring


def retrieval_scores(model: RetrievalModel, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, Any]:
    """EMG->text R@1/R@3/MRR (bootstrap std) and text->EMG R@1/MRR over the model's prototypes."""
    metrics = evaluate_model(model, x, y, n_bootstrap=200, n_episodes=100, seed=seed)
    e2t, t2e = metrics["emg_to_text"], metrics["text_to_emg"]
    return {
        "R@1": e2t["R@1"],
        "R@1_std": e2t["R@1_std"],
        "R@3": e2t["R@3"],
        "MRR": e2t["MRR"],
        "MRR_std": e2t["MRR_std"],
        "text_to_emg_R@1": t2e["R@1"],
        "text_to_emg_MRR": t2e["MRR"],
        "n": e2t["n"],
    }


# ---------------------------------------------------------------------------- adaptation


def _adaptation_loss(model: RetrievalModel) -> LossFn:
    """Stage 3's loss with the checkpoint's temperature and lambda_aux; InfoNCE alone when
    the classifier does not cover every prototype (a cross-class checkpoint)."""
    cfg = model.config.stage3
    p = F.normalize(model.prototypes.detach().float(), dim=-1)
    if model.n_classes == len(model.class_ids):
        return stage3_loss(p, cfg)

    def loss(net: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        nce = info_nce(net(x, stage=3)["z"], p.to(x.device), y, cfg.temperature)
        return {"loss": nce, "nce": nce}

    return loss


class AdaptationStopped(Exception):
    """Fine-tuning ended early because its ``stop`` event was set."""


def _stoppable(loss: LossFn, stop: threading.Event) -> LossFn:
    """``loss``, raising :class:`AdaptationStopped` at the first batch after ``stop`` is set."""

    def checked(net: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        if stop.is_set():
            raise AdaptationStopped
        return loss(net, x, y)

    return checked


def calibration_defaults(model: RetrievalModel) -> dict[str, Any]:
    """The calibration settings recorded with ``model``: its experiment's ``[adapt]`` table, which
    that base's own validation people chose (empty: :class:`AdaptOptions`' defaults, chosen on the
    Myo armband's). An adapted model keeps its base's record."""
    experiment = model.metadata.get("experiment")
    return dict(experiment.get("adapt") or {}) if isinstance(experiment, dict) else {}


def class_centres(model: RetrievalModel, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """The unit mean embedding of each class's windows (``y`` indexes the model's class ids)."""
    z = embed_windows(model, x)
    y = torch.as_tensor(y).long()
    return {model.class_ids[int(c)]: F.normalize(z[y == c].mean(0), dim=0) for c in torch.unique(y)}


def adapt_model(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    options: AdaptOptions = AdaptOptions(),
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    log: str | Path | None = None,
    stop: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Calibrate ``model`` in place to windows ``x [N, T, C]`` whose labels ``y`` index its class
    ids, as ``options.mode`` says, then fuses the person's LDA into the class scores
    (``options.lda_weight``); returns the fine-tuning epochs (none for anchors alone), also
    appended to the JSON-lines file ``log`` as they end (what a progress bar follows).
    ``stop`` set (another thread closing) ends fine-tuning at the next batch with
    :class:`AdaptationStopped`, the model then half-trained: throw it away."""
    x = model.as_windows(x).cpu()
    y = torch.as_tensor(y).long()
    history: list[dict[str, Any]] = []
    model.fusion = None  # a new calibration replaces an earlier one's LDA
    if options.mode != "anchors":
        if options.normalizer == "refit":
            model.fit_input_stats(x)
        model.prototypes = model.text_prototypes.clone()  # fine-tune against the text space, not old anchors
        loss = augmented(_adaptation_loss(model), options.augmentation, ring=False)
        if stop is not None:
            loss = _stoppable(loss, stop)
        common = dict(
            batch_size=options.batch_size,
            weight_decay=model.config.stage3.weight_decay,
            stage="adapt",
            device=device,
            progress=progress,
            log=log,
        )
        history = fit_two_phases(
            model,
            x,
            y,
            loss,
            epochs_a=options.epochs_a,
            epochs_b=options.epochs_b,
            lr=options.lr,
            lr_b=options.lr_b,
            unfreeze_layers=options.unfreeze_layers,
            seed=options.seed,
            **common,
        )
        model.cpu().eval()
    if options.mode.endswith("anchors"):
        model.anchor(class_centres(model.eval(), x, y), options.anchor_weight)
    if options.lda_weight > 0:
        fuse_lda(model, x, y, options.lda_weight)
    return history


#: the least probability (softmax of the class scores at the model's stage-3 temperature) a
#: window's top class needs to count as its label in a self-calibration; chosen on the transfer
#: report's validation people
SELF_CALIBRATION_CONFIDENCE = 0.5
#: the share of the model's classes a wearer's first seconds must show confidently for a
#: self-calibration: a wearer who only rested, or held one gesture, would pull the model
#: towards the few classes it saw
SELF_CALIBRATION_COVERAGE = 0.5


def self_labels(model: RetrievalModel, x: Tensor | np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The windows of ``x [N, T, C]`` the model labels itself with at least ``confidence``
    (indices) and those labels (indices into its class ids)."""
    scores = window_scores(model, torch.as_tensor(np.asarray(x, np.float32))).double()
    p = torch.softmax(scores / model.config.stage3.temperature, dim=1)
    top, label = p.max(dim=1)
    keep = np.flatnonzero((top >= confidence).numpy())
    return keep, label.numpy()[keep]


def calibrated_to_a_person(model: RetrievalModel) -> bool:
    """Whether ``model`` already fits a person: calibrated by ``adapt`` (its record or its fused
    LDA) or self-calibrated."""
    return "adaptation" in model.metadata or "self_calibration" in model.metadata or model.fusion is not None


def self_calibrate(
    model: RetrievalModel,
    x: Tensor | np.ndarray,
    confidence: float = SELF_CALIBRATION_CONFIDENCE,
    options: AdaptOptions = AdaptOptions(),
    stop: threading.Event | None = None,
) -> RetrievalModel | None:
    """A copy of ``model`` calibrated to a new wearer without labels: windows ``x [N, T, C]`` of
    their first seconds (prepared and oriented as the model ranks them) are labelled by the model
    itself, those it labels with at least ``confidence`` calibrate it as ``options.mode`` says
    (no LDA fusion: a classic classifier on the model's own labels adds nothing it did not know).

    None when the confident windows show fewer than :data:`SELF_CALIBRATION_COVERAGE` of the
    model's classes (or fewer than two). ``stop``: as :func:`adapt_model`'s. Self-training on confident pseudo-labels is how
    Côté-Allard et al.'s SCADANN recalibrates a Myo armband classifier without labels.
    """
    keep, labels = self_labels(model, x, confidence)
    shown = np.unique(labels)
    if len(shown) < max(2, int(np.ceil(SELF_CALIBRATION_COVERAGE * len(model.class_ids)))):
        return None
    own = copy.deepcopy(model)
    xs = torch.as_tensor(np.asarray(x, np.float32)[keep])
    adapt_model(
        own, xs, torch.from_numpy(labels), dataclasses.replace(options, lda_weight=0.0), progress=False, stop=stop
    )
    own.metadata = {
        **model.metadata,
        "self_calibration": {
            "windows": int(len(x)),
            "labelled": int(len(keep)),
            "classes": [model.class_ids[int(c)] for c in shown],
            "confidence": float(confidence),
            "mode": options.mode,
        },
    }
    return own.eval()


def self_calibrate_ranker(ranker: Any, windows: np.ndarray, stop: threading.Event | None = None) -> Any:
    """:func:`self_calibrate` as the live pipeline asks for it
    (:data:`myostream.stream.pipeline.SelfCalibrate`): None for a ranker that does not train
    (the ONNX runtime) or that fits its person already (:func:`calibrated_to_a_person`)."""
    if not isinstance(ranker, RetrievalModel) or calibrated_to_a_person(ranker):
        return None
    own = self_calibrate(ranker, windows, stop=stop)
    if own is None:
        log.info(
            "The wearer's first windows show too few gestures the model is sure of to self-calibrate; "
            "ranking with the model as trained."
        )
    return own


def fuses_lda(model: RetrievalModel, weight: float) -> bool:
    """Whether a calibration of ``model`` at LDA weight ``weight`` fuses the person's LDA: only
    when the model's input is the wearer's signal over their own level (per-user normalisation).
    Hudgins features follow the signal's gain, which moves between wearings, where the model
    learnt to ignore it; on raw signal the LDA misleads (the simulated person of
    ``docs/results/calibration`` lost 9 points of live top-1 with it)."""
    return weight > 0 and model.preprocessing.normalisation != "none"


def fuse_lda(model: RetrievalModel, x: Tensor | np.ndarray, y: Tensor | np.ndarray, weight: float) -> None:
    """Fuse a shrinkage LDA on Hudgins features of the calibration windows ``x`` (labels ``y``
    index the model's class ids) into ``model``'s class scores at ``weight``, in place, when
    :func:`fuses_lda` says so; a calibration of fewer than two classes has no LDA to fuse, and
    then, as without fusion, the model keeps none."""
    y = np.asarray(y)
    if not fuses_lda(model, weight) or len(np.unique(y)) < 2:
        model.fusion = None
        return
    x = np.asarray(torch.as_tensor(x, dtype=torch.float32).cpu())
    model.fusion = LDAFusion.fit(x, y, model.class_ids, weight, model.config.stage3.temperature)


def person_rejection(model: RetrievalModel, x: Tensor, y: Tensor, fitted_on: str) -> dict[str, Any]:
    """Re-fit ``model``'s rejection rule on a person's held-out windows (after adaptation), in place.

    The base model's measure and target false-accept rate stay (chosen on its larger
    validation set); only the threshold moves to this person's scores. A repetition with too
    few wrong windows to promise the target (fewer than ``1 / target - 1``) keeps the base's
    threshold, unless the calibration fused the person's LDA into the scores: the base's
    threshold was fitted on scores without it, so the person's own stays (above their most
    confident wrong window, the record says so). A model without a rule gets one fitted from
    scratch. Returns what was done.
    """
    base = model.rejection
    rule = fit_rejection(model, x, y, fitted_on=fitted_on, base=base)
    if base is not None and not rule.meets_target:
        few = (
            f"{fitted_on} shows {rule.n_wrong} wrong window(s), too few to promise a {base.target_far:.0%} "
            "false-accept rate"
        )
        if model.fusion is None:
            return {
                "refitted": False,
                "person": rule.to_dict(),
                "note": f"kept the base model's ({base.describe()}): {few}",
            }
        model.rejection = rule
        note = f"{rule.describe()}; {few}, but the base's threshold was fitted on scores without the person's LDA"
        return {"refitted": True, "base": base.to_dict(), "note": note}
    model.rejection = rule
    return {"refitted": True, "base": None if base is None else base.to_dict(), "note": rule.describe()}


def adapt(
    model: RetrievalModel,
    adapt_x: Tensor,
    adapt_y: Tensor,
    tests: dict[str, tuple[Tensor, Tensor]],
    options: AdaptOptions = AdaptOptions(),
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    say: Say = logging.getLogger(__name__).info,
    log: str | Path | None = None,
) -> AdaptResult:
    """Score ``model`` on each held-out set in ``tests``, adapt it on ``adapt_x``, score again.

    ``before``/``after`` hold one score dict per test set name.
    """
    start = time.perf_counter()
    before = {name: retrieval_scores(model, x, y, options.seed) for name, (x, y) in tests.items()}
    for name, s in before.items():
        say(f"before: {name}: R@1 {s['R@1']:.3f}, MRR {s['MRR']:.3f} ({s['n']} windows)")
    fused = f", the person's LDA fused at weight {options.lda_weight:g}" if fuses_lda(model, options.lda_weight) else ""
    if options.mode == "anchors":
        say(f"calibrating on {len(adapt_y)} windows: class anchors at weight {options.anchor_weight:g}{fused}")
    else:
        say(
            f"adapting on {len(adapt_y)} windows ({options.mode}): {options.epochs_a} + {options.epochs_b} epochs, "
            f"normaliser {options.normalizer}{fused}"
        )
    history = adapt_model(model, adapt_x, adapt_y, options, device=device, progress=progress, log=log)
    model.cpu().eval()
    after = {name: retrieval_scores(model, x, y, options.seed) for name, (x, y) in tests.items()}
    for name, s in after.items():
        say(f"after:  {name}: R@1 {s['R@1']:.3f}, MRR {s['MRR']:.3f}")
    return AdaptResult(
        model=model,
        before=before,
        after=after,
        history=history,
        n_adapt=int(len(adapt_y)),
        n_test=int(sum(len(y) for _, y in tests.values())),
        seconds=time.perf_counter() - start,
        options=options,
    )


def adapt_sessions(
    checkpoint: str | Path | None,
    sessions: str | Path,
    out: str | Path | None = None,
    *,
    holdout_rep: int | None = None,
    options: AdaptOptions | None = None,
    settings: dict[str, Any] | None = None,
    device: str = "cpu",
    progress: bool = True,
    say: Say = logging.getLogger(__name__).info,
    nonfinite: NonFinite = "error",
    resample: bool = False,
    log: str | Path | None = None,
) -> tuple[AdaptResult, Path]:
    """The ``myostream adapt`` work: read, hold out, adapt, write checkpoint and report.

    ``checkpoint`` None: the bundled base that fits the sessions' channels and rate
    (:func:`myostream.runtime.bundled_for`; resampled to its rate when it differs). ``nonfinite``: what to do with NaN samples in
    the sessions (see :class:`Recording`).
    ``resample``: sessions at another rate than the model's are resampled to it first, as the
    live pipeline resamples their stream (else they are refused). ``log``: a JSON-lines file
    the fine-tuning epochs are appended to as they end. ``options``: how to calibrate; None: the
    base's own defaults changed by ``settings`` (:meth:`AdaptOptions.for_model`).
    """
    if options is not None and settings:
        raise ValueError("give adapt_sessions options or settings, not both")
    start = time.perf_counter()
    recordings = read_sessions(sessions, nonfinite)
    if checkpoint is None:
        from myostream.runtime import bundled_for

        base = bundled_for(recordings[0].n_channels, recordings[0].rate)
        say(
            f"base: the bundled model {base} (it fits sessions of {recordings[0].n_channels} channels at "
            f"{recordings[0].rate:g} Hz)"
        )
        checkpoint = base.path
        resample = resample or abs(base.rate - recordings[0].rate) > 1e-3 * base.rate
    checkpoint = Path(checkpoint)
    model = load_checkpoint(checkpoint, device="cpu")
    if options is None:
        options = AdaptOptions.for_model(model, **(settings or {}))
        if recorded := calibration_defaults(model):
            say(f"calibration defaults of the base: {recorded} (its experiment's [adapt])")
    if resample:
        for rate in sorted({r.rate for r in recordings} - {model.config.rate}):
            say(f"resampling the sessions from {rate:g} Hz to the model's {model.config.rate:g} Hz")
        recordings = resample_recordings(recordings, model.config.rate)
    check_recordings(model, recordings)
    pre = model.preprocessing
    say(
        f"read {len(recordings)} session(s) from {sessions} ({sum(r.duration for r in recordings):.0f} s); "
        f"filter: {_filter_text(pre.filter)}; per-user normalisation: {pre.normalisation}"
    )
    prepared = prepare_recordings(recordings, pre)
    windows, unknown = model_windows(model, prepared, options.hop_ms or pre.hop_ms)
    if unknown:
        say(f"left out classes the model does not know: {', '.join(unknown)}")
    reps = sorted(set(windows.repetition.tolist()) - {0})
    if len(reps) < 2:
        raise MyostreamError(
            f"The sessions in {str(sessions)!r} hold {len(reps)} repetition(s); adaptation needs at least two "
            "(one to adapt on, one held out): record a protocol with repetitions >= 2."
        )
    held = reps[-1] if holdout_rep is None else int(holdout_rep)
    if held not in reps:
        raise MyostreamError(f"--holdout-rep {held} is not in the sessions; they hold repetitions {reps}.")
    subjects = sorted({r.subject for r in recordings})
    if out is None:
        from myostream.runtime import bundled_dir

        name = f"{checkpoint.name}-adapted-{subjects[0] if len(subjects) == 1 else 'user'}"
        inside = bundled_dir().resolve() in checkpoint.resolve().parents
        out = Path("runs") / name if inside else checkpoint.with_name(name)  # never into the installed package
    out = Path(out)
    if out.resolve() == checkpoint.resolve():
        raise MyostreamError(f"--out {str(out)!r} is the base checkpoint; write the adapted model to a new folder.")
    check_output_dir(out, "the adapted checkpoint")  # before the adaptation runs
    split = repetition_split(windows, test_repetitions=[held])

    def tensors(indices: np.ndarray) -> tuple[Tensor, Tensor]:
        idx = balanced(windows.y, indices, options.seed)
        return torch.from_numpy(windows.data(idx)), torch.from_numpy(windows.y[idx]).long()

    held_x, held_y = tensors(split.test)
    result = adapt(
        model,
        *tensors(split.train),
        {f"repetition {held}": (held_x, held_y)},
        options,
        device=device,
        progress=progress,
        say=say,
        log=log,
    )
    rejection = person_rejection(result.model, held_x, held_y, f"held-out repetition {held} ({len(held_y)} windows)")
    say(f"rejection rule: {rejection['note']}")
    result.seconds = time.perf_counter() - start
    result.extra.update(
        base_checkpoint=str(checkpoint.resolve()),
        sessions=[r.source for r in recordings],
        subjects=subjects,
        adapt_repetitions=[r for r in reps if r != held],
        holdout_repetition=held,
        classes=[c for i, c in enumerate(model.class_ids) if np.any(windows.y == i)],
        left_out_classes=unknown,
        filter=None if pre.filter is None else dataclasses.asdict(pre.filter),
        dropped_straddling=split.dropped,
        rejection=rejection,
    )
    if pre.normalisation != "none":  # live, this person starts from their own level rather than the population's
        from myostream.stream.orientation import level_profile

        levels = person_levels(filter_recordings(recordings, pre.filter), pre.normalisation)
        level = np.median(np.stack(list(levels.values())), axis=0)
        own = dataclasses.replace(pre, prior_scale=tuple(round(float(v), 6) for v in level))
        if pre.ring:  # the model learnt the band as this person wore it: later wearings are turned to match that
            own = dataclasses.replace(own, ring_profile=tuple(round(float(v), 6) for v in level_profile(level)))
        result.model.set_preprocessing(own)
    write_adapted(result, checkpoint, out)
    say(f"wrote the adapted checkpoint and its report to {out} ({result.seconds:.1f} s in all)")
    return result, out


def write_adapted(result: AdaptResult, base: Path, out: Path) -> Path:
    """Save the adapted checkpoint (metadata: the base's plus ``adaptation``) and its report."""
    metadata = dict(result.model.metadata)
    previous = metadata.get("adaptation")
    metadata["adaptation"] = {**result.summary(), **({"previous": previous} if previous else {})}
    if result.options.normalizer == "refit":  # the base's record would describe statistics no longer used
        model = result.model
        metadata["normaliser"] = {
            "mean": [round(float(v), 6) for v in model.input_shift],
            "std": [round(float(v), 6) for v in model.input_scale],
            "fitted_on": "adaptation windows of the user's sessions",
        }
    save_checkpoint(result.model, out, training=metadata)
    for name in _TEXT_ENCODER_FILES:  # free-text search needs the text encoder of the prototypes
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)
    (out / "adaptation.json").write_text(json.dumps(metadata["adaptation"], indent=2) + "\n")
    (out / "adaptation.md").write_text(_markdown(metadata["adaptation"]))
    return out


def _markdown(summary: dict[str, Any]) -> str:
    rows = [
        f"| {name} | {b['R@1']:.3f} | {summary['after'][name]['R@1']:.3f} | {b['MRR']:.3f} | "
        f"{summary['after'][name]['MRR']:.3f} | {b['n']} |"
        for name, b in summary["before"].items()
    ]
    return "\n".join(
        [
            "# Adaptation",
            "",
            f"Base checkpoint: `{summary.get('base_checkpoint', '')}`; subjects: {', '.join(summary.get('subjects', []))}; "
            f"adapted on repetitions {summary.get('adapt_repetitions')}, held out {summary.get('holdout_repetition')}; "
            f"{summary['n_adapt_windows']} adaptation windows, {summary['seconds']} s.",
            "",
            "| held out | R@1 before | R@1 after | MRR before | MRR after | windows |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def _filter_text(spec: FilterSpec | None) -> str:
    if spec is None:
        return "none"
    parts = [f"{k} {v}" for k, v in dataclasses.asdict(spec).items() if v is not None and v != getattr(FilterSpec(), k)]
    return ", ".join(parts) or "none"
