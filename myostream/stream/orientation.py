"""How an armband sits: turned around the forearm, or put on the other way round.

The electrodes of a ring band (Myo, gForce: ``Preprocessing.ring``) lie around the forearm
in channel order, so a band turned by one electrode records what its neighbour recorded
before, and a band flipped records the ring in reverse. :func:`ring_matrix` is the one
definition of that map, fractions of an electrode interpolating neighbours; training
augmentation and orientation correction both use it.

:func:`estimate_orientation` tells, without labels, which turn in steps of half an
electrode (32 on an 8-electrode band, mirrored or not) brings a wearer's signal back to the way the training people
wore the band. Two pieces of evidence, each weak alone, are added as z-scores:

- the model's confidence: the mean top class probability over the wearer's first windows
  (a correctly oriented signal looks like some gesture the model knows), from the embedding
  alone where the model can say (``embedding_scores``): a person's LDA fused in at calibration
  is sure of some class however the band is turned (its features never saw another turn), so
  it would drown out what the embedding says and pick a wrong turn;
- anatomy: the correlation of the wearer's per-channel level profile (log levels, mean
  removed: which side of the forearm is stronger) with the training people's mean profile.

On the Myo armband data, confidence alone picked the right orientation for 19 of 22
held-out sessions, the level profile alone for 19, the sum for 21 (the 22nd a validation
person who appears to have worn the band turned by one electrode); see
``docs/results/transfer/``. Turns are weighed in half-electrode steps: the transfer report's
validation people chose them over whole turns (its "orientation steps" table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from myostream.errors import MyostreamError

#: softmax temperature of the confidence (the models' stage-3 temperature)
TEMPERATURE = 0.07
#: seconds of the wearer's signal (after their level settled) the orientation is estimated from:
#: the first gesture cycle of a Myo session, what the transfer report validated; the live
#: pipeline and the offline evaluation both use it (fewer seconds of mostly one gesture mislead)
ESTIMATE_SECONDS = 35.0


def ring_matrix(n_channels: int, shift: float, mirror: bool) -> np.ndarray:
    """``M [C, C]`` with ``x @ M.T`` = windows ``x [..., C]`` as a ring band turned by ``shift``
    electrodes after reversing the electrode order when ``mirror``: output channel ``c`` reads
    ring position ``c - shift`` (a fraction interpolates the two electrodes around it)."""
    c = int(n_channels)
    order = (-np.arange(c)) % c if mirror else np.arange(c)
    whole = int(np.floor(shift))
    frac = float(shift) - whole
    m = np.zeros((c, c))
    for out in range(c):
        m[out, order[(out - whole) % c]] += 1.0 - frac
        if frac:
            m[out, order[(out - whole - 1) % c]] += frac
    return m


@dataclass(frozen=True)
class Orientation:
    """A correction: turn the wearer's channels by ``shift`` electrodes after mirroring (when
    ``mirror``) to get the ring as the model was trained on it."""

    shift: float = 0.0
    mirror: bool = False

    def matrix(self, n_channels: int) -> np.ndarray:
        return ring_matrix(n_channels, self.shift, self.mirror)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x [..., C]`` corrected (unchanged for the identity)."""
        if self.shift == 0 and not self.mirror:
            return x
        return (x @ self.matrix(x.shape[-1]).T).astype(np.float32)

    @property
    def identity(self) -> bool:
        return self.shift == 0 and not self.mirror


#: candidate turns per electrode: half turns as well as whole ones (a band sits anywhere around the
#: arm); chosen on the transfer report's validation people
STEPS_PER_ELECTRODE = 2
#: how far (in the summed z-scores of the evidence) a turn must beat the band as worn to be
#: applied: a wrong turn costs far more than a missed one; chosen on the transfer report's
#: validation people
IDENTITY_MARGIN = 0.0


def candidates(n_channels: int, steps: int = STEPS_PER_ELECTRODE) -> list[Orientation]:
    """Every correction the estimate weighs: each turn in ``steps`` per electrode, mirrored or not."""
    return [Orientation(s / steps, m) for m in (False, True) for s in range(steps * n_channels)]


def level_profile(level: np.ndarray) -> np.ndarray:
    """Which channels are strong: log of a per-channel level with its mean removed."""
    log = np.log(np.maximum(np.asarray(level, np.float64), 1e-12))
    return log - log.mean()


def _zscore(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)


def estimate_orientation(
    ranker: Any,
    windows: np.ndarray,
    level: np.ndarray | None = None,
    reference_profile: Sequence[float] | None = None,
    steps: int = STEPS_PER_ELECTRODE,
    margin: float = IDENTITY_MARGIN,
) -> tuple[Orientation, dict[str, Any]]:
    """The correction (a turn in half-electrode steps, mirrored or not) that makes ``windows [N, T, C]`` (prepared for the model)
    look most like the training people's, and the evidence (per candidate).

    ``level`` (the wearer's per-channel level, device units) and ``reference_profile``
    (the training people's mean :func:`level_profile`) add the anatomy term; without them
    the model's confidence decides alone. The band as worn stays unless another candidate's
    total beats its total by ``margin``.
    """
    windows = np.asarray(windows, np.float32)
    if windows.ndim != 3 or len(windows) == 0:
        raise MyostreamError("Estimating how the band sits needs some windows of the wearer's signal.")
    c = windows.shape[-1]
    options = candidates(c, steps)
    by_embedding = getattr(ranker, "embedding_scores", None)

    def _scores(x: np.ndarray) -> Any:
        return by_embedding(x) if by_embedding is not None else ranker.rank(x, k=1).all_scores

    confidence = np.empty(len(options))
    for i, o in enumerate(options):
        scores = np.asarray(_numpy(_scores(o.apply(windows))), np.float64) / TEMPERATURE
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        confidence[i] = float((p.max(axis=1) / p.sum(axis=1)).mean())
    total = _zscore(confidence)
    anatomy = None
    if level is not None and reference_profile is not None:
        profile = level_profile(level)
        reference = np.asarray(reference_profile, np.float64)
        anatomy = np.array([np.corrcoef(o.apply(profile), reference)[0, 1] for o in options])
        total = total + _zscore(np.nan_to_num(anatomy))
    best = options[int(np.argmax(total))]
    if total.max() < total[0] + margin:  # candidates[0] is the band as worn
        best = options[0]
    evidence = {
        "candidates": [(o.shift, o.mirror) for o in options],
        "confidence": confidence.round(4).tolist(),
        "anatomy": None if anatomy is None else np.round(anatomy, 4).tolist(),
        "chosen": (best.shift, best.mirror),
    }
    return best, evidence


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
