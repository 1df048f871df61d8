"""When a window's best description should not be shown: a rejection rule on its class scores.

The model scores every candidate description of a window by cosine similarity
(``z . P_c``). When the hand sits between gestures or does something the catalog does not
hold, the best of those scores still names a class. A :class:`Rejection` turns the scores
into one *confidence* and accepts the window's first description only when that
confidence exceeds a threshold:

- ``"margin"``: best score minus second best;
- ``"softmax"``: the best class's softmax probability at the model's stage-3 temperature;
- ``"top1"``: the best score itself.

:meth:`Rejection.fit` chooses the threshold from windows whose first description is known
to be right or wrong (a model's validation windows, a person's held-out calibration
repetition) so that a chosen fraction of the *wrong* ones is still accepted: the
false-accept rate (FAR). Given several measures it keeps the one that accepts the most
correct windows at that FAR. Numpy only: the torch-free edge runtime uses it too.
A model without a rule accepts everything.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from myostream.errors import MyostreamError

#: confidence measures, in the order a tie between them is settled
MEASURES = ("margin", "softmax", "top1")
#: the false-accept rate ``myostream train`` and ``myostream adapt`` fit for (see docs/results/rejection)
DEFAULT_FAR = 0.1
#: false-accept rates a fitted rule records its operating point at (its ``curve``)
CURVE_FARS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def confidence(scores: np.ndarray, measure: str, temperature: float = 0.07) -> np.ndarray:
    """The confidence of each row of class scores ``[..., K]`` (a float per row) by ``measure``."""
    s = np.asarray(scores, np.float64)
    if s.ndim == 0 or s.shape[-1] < 1:
        raise MyostreamError(f"Class scores of shape {s.shape} hold no classes; give [windows, classes] scores.")
    if measure == "top1":
        return s.max(axis=-1)
    if measure == "margin":
        if s.shape[-1] == 1:  # one candidate: nothing competes with it
            return np.full(s.shape[:-1], np.inf)
        two = -np.partition(-s, 1, axis=-1)[..., :2]
        return two[..., 0] - two[..., 1]
    if measure == "softmax":
        z = (s - s.max(axis=-1, keepdims=True)) / temperature
        return 1.0 / np.exp(z).sum(axis=-1)  # the best class's exp(0) over the sum
    raise MyostreamError(f"Confidence measure {measure!r} is unknown; use one of {', '.join(MEASURES)}.")


def top1_correct(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Whether each window's best-scored class (column index) is its true class ``truth``."""
    return np.asarray(scores).argmax(axis=-1) == np.asarray(truth)


def far_threshold(wrong: np.ndarray, target_far: float) -> float:
    """The threshold on wrong windows' confidences that accepts (``>``) a new wrong window with
    probability at most ``target_far``.

    With ``n`` wrong confidences, a new one exchangeable with them exceeds the ``j``-th largest with
    probability ``j / (n + 1)`` (split-conformal), so the threshold is the ``j``-th largest with
    ``j = floor(target_far * (n + 1))``. With fewer than ``1 / target_far - 1`` wrong windows no
    threshold inside their range can promise the target: the largest is used (FAR about ``1 / (n + 1)``).
    No wrong windows: minus infinity (nothing to reject; accept everything).
    """
    w = np.sort(np.asarray(wrong, np.float64))[::-1]
    if len(w) == 0:
        return -math.inf
    j = max(1, int(math.floor(target_far * (len(w) + 1) + 1e-9)))
    return float(w[min(j, len(w)) - 1])


def auroc(correct_conf: np.ndarray, wrong_conf: np.ndarray) -> float:
    """Probability that a correct window is more confident than a wrong one (ties count half)."""
    c, w = np.asarray(correct_conf, np.float64), np.sort(np.asarray(wrong_conf, np.float64))
    if len(c) == 0 or len(w) == 0:
        return math.nan
    below = np.searchsorted(w, c, side="left")
    ties = np.searchsorted(w, c, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(c) * len(w)))


@dataclass(frozen=True)
class Rejection:
    """Accept a window's first description when its confidence by ``measure`` exceeds ``threshold``.

    ``target_far`` is the fraction of wrong windows the threshold was chosen to accept;
    ``temperature`` the softmax temperature (the model's stage 3). The rest records what the
    rule was fitted on: ``fitted_on`` in words, the numbers of correct and wrong windows, the
    fractions of each it accepts there, and ``comparison``: per measure tried, its AUROC
    (correct vs wrong) and the fraction of correct windows it accepts at ``target_far``;
    ``curve``: the kept measure's threshold and accepted fractions at other false-accept
    rates (:data:`CURVE_FARS`), so the choice of target can be read off the fitting windows.
    """

    measure: str
    threshold: float
    target_far: float = DEFAULT_FAR
    temperature: float = 0.07
    fitted_on: str = ""
    n_correct: int = 0
    n_wrong: int = 0
    accepted_correct: float = 1.0
    accepted_wrong: float = 1.0
    comparison: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    curve: tuple[Mapping[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise MyostreamError(f"Confidence measure {self.measure!r} is unknown; use one of {', '.join(MEASURES)}.")
        if not 0.0 < self.target_far < 1.0:
            raise MyostreamError(f"The target false-accept rate {self.target_far} must lie strictly between 0 and 1.")
        if not self.temperature > 0:
            raise MyostreamError(f"The softmax temperature {self.temperature} must be positive.")
        if math.isnan(self.threshold):
            raise MyostreamError("The rejection threshold is NaN; fit the rule again.")

    # -- use ------------------------------------------------------------------------------

    @property
    def meets_target(self) -> bool:
        """Whether it was fitted on enough wrong windows to promise ``target_far`` (see :func:`far_threshold`)."""
        return math.floor(self.target_far * (self.n_wrong + 1) + 1e-9) >= 1

    def confidence(self, scores: np.ndarray) -> np.ndarray:
        """Confidence of class scores ``[K]`` (a 0-d array) or ``[B, K]`` (``[B]``)."""
        return confidence(scores, self.measure, self.temperature)

    def accept(self, scores: np.ndarray) -> np.ndarray:
        """Whether the first description of class scores ``[K]`` / ``[B, K]`` is confident enough to show."""
        return self.confidence(scores) > self.threshold

    # -- fitting --------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        correct: np.ndarray,
        target_far: float = DEFAULT_FAR,
        *,
        temperature: float = 0.07,
        measures: Sequence[str] = MEASURES,
        fitted_on: str = "",
    ) -> Rejection:
        """The rule that accepts about ``target_far`` of the wrong windows among ``scores [N, K]``
        (``correct [N]``: whether each window's best class is its true one), by whichever of
        ``measures`` then accepts the most correct windows (ties: the earlier measure)."""
        s = np.asarray(scores, np.float64)
        ok = np.asarray(correct, bool)
        if s.ndim != 2 or ok.shape != (len(s),):
            raise MyostreamError(
                f"Fitting a rejection rule needs scores [windows, classes] and one correct flag per window; "
                f"got scores {s.shape} and flags {ok.shape}."
            )
        if len(s) == 0:
            raise MyostreamError("No windows to fit the rejection rule on; give the model's validation windows.")
        if not np.isfinite(s).all():
            raise MyostreamError("The class scores to fit the rejection rule on hold NaN or infinite values.")
        unknown = [m for m in measures if m not in MEASURES]
        if unknown or not measures:
            raise MyostreamError(
                f"Confidence measures {unknown or '[]'} are unknown; use some of {', '.join(MEASURES)}."
            )
        best: Rejection | None = None
        comparison: dict[str, dict[str, float]] = {}
        for measure in measures:
            conf = confidence(s, measure, temperature)
            threshold = far_threshold(conf[~ok], target_far)
            rule = cls(
                measure=measure,
                threshold=threshold,
                target_far=target_far,
                temperature=temperature,
                fitted_on=fitted_on,
                n_correct=int(ok.sum()),
                n_wrong=int((~ok).sum()),
                accepted_correct=_fraction(conf[ok] > threshold),
                accepted_wrong=_fraction(conf[~ok] > threshold),
            )
            comparison[measure] = {
                "auroc": _round(auroc(conf[ok], conf[~ok])),
                "accepted_correct": _round(rule.accepted_correct),
            }
            if best is None or rule.accepted_correct > best.accepted_correct:
                best = rule
        assert best is not None
        conf = confidence(s, best.measure, temperature)
        curve = []
        for far in sorted({*CURVE_FARS, target_far}):
            t = far_threshold(conf[~ok], far)
            curve.append(
                {
                    "far": far,
                    "threshold": t,
                    "accepted_correct": _round(_fraction(conf[ok] > t)),
                    "accepted_wrong": _round(_fraction(conf[~ok] > t)),
                }
            )
        return dataclasses.replace(best, comparison=comparison, curve=tuple(curve))

    def refit(self, scores: np.ndarray, correct: np.ndarray, fitted_on: str = "") -> Rejection:
        """This rule's measure, FAR and temperature with a threshold from other windows (a person's own)."""
        return Rejection.fit(
            scores,
            correct,
            self.target_far,
            temperature=self.temperature,
            measures=(self.measure,),
            fitted_on=fitted_on,
        )

    # -- JSON -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["threshold"] = None if math.isinf(self.threshold) else self.threshold  # JSON has no infinity
        d["comparison"] = {k: dict(v) for k, v in self.comparison.items()}
        d["curve"] = [
            {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in point.items()}
            for point in self.curve
        ]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "rejection") -> Rejection:
        if not isinstance(d, Mapping):
            raise MyostreamError(f"{where} must be a table of the rule's fields, not {type(d).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise MyostreamError(f"{where} has unknown keys {unknown}; use only {sorted(known)}.")
        values = dict(d)
        if values.get("threshold", 0.0) is None:
            values["threshold"] = -math.inf
        try:
            for key in ("threshold", "target_far", "temperature", "accepted_correct", "accepted_wrong"):
                if key in values:
                    values[key] = float(values[key])
            for key in ("n_correct", "n_wrong"):
                if key in values:
                    values[key] = int(values[key])
            values["comparison"] = {
                str(k): {str(a): float(b) for a, b in v.items()}
                for k, v in dict(values.get("comparison") or {}).items()
            }
            values["curve"] = tuple(
                {str(k): -math.inf if v is None else float(v) for k, v in point.items()}
                for point in values.get("curve") or ()
            )
            return cls(**values)
        except MyostreamError as exc:
            raise MyostreamError(f"{where}: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise MyostreamError(f"{where} is malformed ({exc}); fit the rule again.") from None

    def describe(self) -> str:
        """One line for logs: the measure, threshold and what it accepts where it was fitted."""
        return (
            f"{self.measure} > {self.threshold:.4g} (target false-accept rate {self.target_far:.0%}; "
            f"on {self.fitted_on or 'its fitting windows'}: accepts {self.accepted_correct:.0%} of "
            f"{self.n_correct} correct and {self.accepted_wrong:.0%} of {self.n_wrong} wrong windows)"
        )


def _fraction(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 1.0


def _round(value: float) -> float:
    return value if math.isnan(value) else round(value, 4)
