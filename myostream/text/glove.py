"""Process descriptions (view T1) generated from CyberGlove recordings.

For every repetition of a movement, the glove's hold posture (median of the middle
half of the repetition) is compared with the rest posture just before it. Over all
repetitions, the joints whose change is large and has a consistent sign are the
movers; their direction and the final configuration fill a sentence template such as
"From a relaxed hand, the index finger flexes at its base (MCP) and middle (PIP)
joints while the thumb and the other fingers stay still; ...".

Input is plain arrays (glove float[n, 22], labels int[n] indexing label_names), so any
reader's output works; ``myostream describe glove`` runs it on NinaPro files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from myostream.errors import MyostreamError

DIGITS = ("thumb", "index", "middle", "ring", "little")
DIGIT_NAMES = {
    "thumb": "the thumb",
    "index": "the index finger",
    "middle": "the middle finger",
    "ring": "the ring finger",
    "little": "the little finger",
}


@dataclass(frozen=True)
class GloveSensor:
    """One glove sensor column: the joint it spans and how its raw value relates to motion.

    ``polarity`` is +1 when the raw value rises with flexion (abduction for the thumb
    abduction sensor), -1 when it falls, and 0 when it is not used for text (sign not
    established, or the sensor mostly picks up neighbouring joints).
    """

    column: int
    digit: str
    joint: str
    polarity: int


# CyberGlove II, 22 sensors, in the order the glove reports them and NinaPro stores
# them (columns 1-22 of the `glove` variable; NinaPro DB1-DB3 and DB5 documentation,
# Atzori et al. 2014, Sci. Data 1:140053): thumb rotation, thumb MCP, thumb IP,
# thumb-index abduction; index MCP, PIP, DIP; middle MCP, PIP, DIP; middle-index
# abduction; ring MCP, PIP, DIP; ring-middle abduction; little MCP, PIP, DIP;
# little-ring abduction; palm arch; wrist flexion; wrist abduction.
# The DB1 values are raw and uncalibrated, so polarities come from DB1 exercise A,
# where every digit is flexed and extended on its own: finger MCP/PIP values rise with
# flexion, thumb rotation/MCP/IP values fall with flexion, the thumb abduction value
# falls with adduction. The DIP, inter-finger abduction, palm-arch and wrist sensors
# have no consistent sign there (or follow the neighbouring fingers), so they are not
# described.
CYBERGLOVE_22: tuple[GloveSensor, ...] = (
    GloveSensor(0, "thumb", "CMC", -1),
    GloveSensor(1, "thumb", "MCP", -1),
    GloveSensor(2, "thumb", "IP", -1),
    GloveSensor(3, "thumb", "abduction", +1),
    GloveSensor(4, "index", "MCP", +1),
    GloveSensor(5, "index", "PIP", +1),
    GloveSensor(6, "index", "DIP", 0),
    GloveSensor(7, "middle", "MCP", +1),
    GloveSensor(8, "middle", "PIP", +1),
    GloveSensor(9, "middle", "DIP", 0),
    GloveSensor(10, "index-middle", "abduction", 0),
    GloveSensor(11, "ring", "MCP", +1),
    GloveSensor(12, "ring", "PIP", +1),
    GloveSensor(13, "ring", "DIP", 0),
    GloveSensor(14, "middle-ring", "abduction", 0),
    GloveSensor(15, "little", "MCP", +1),
    GloveSensor(16, "little", "PIP", +1),
    GloveSensor(17, "little", "DIP", 0),
    GloveSensor(18, "ring-little", "abduction", 0),
    GloveSensor(19, "palm", "arch", 0),
    GloveSensor(20, "wrist", "flexion", 0),
    GloveSensor(21, "wrist", "abduction", 0),
)

_JOINT_WORDS = {"CMC": "base (CMC)", "MCP": "base (MCP)", "PIP": "middle (PIP)", "IP": "end (IP)"}
_THUMB_JOINT_WORDS = {"CMC": "base (CMC)", "MCP": "knuckle (MCP)", "IP": "end (IP)"}


@dataclass(frozen=True)
class JointChange:
    """How one described joint moved from rest to the hold posture, over all repetitions."""

    sensor: GloveSensor
    change: float  # median raw change, signed so that + means flexion (or thumb abduction)
    consistency: float  # fraction of repetitions whose change has the same sign


@dataclass(frozen=True)
class GloveText:
    class_id: str
    text: str | None  # None when no joint moved consistently (e.g. a wrist-only movement)
    repetitions: int
    movers: tuple[JointChange, ...]


def repetition_deltas(
    glove: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    rest: str = "rest",
    rest_window: int = 100,
    min_samples: int = 10,
) -> dict[str, np.ndarray]:
    """Per class, the hold-minus-rest change of every repetition: float[k, sensors].

    A repetition is a run of samples with the class label; its rest posture is the
    median of up to ``rest_window`` rest samples right before it (repetitions with no
    rest before them are skipped); its hold posture is the median of its middle half.
    """
    glove = np.asarray(glove, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if glove.ndim != 2 or len(glove) != len(labels):
        raise MyostreamError(
            f"Glove data must be [samples, sensors] with one label per sample; got {glove.shape} and {labels.shape}."
        )
    if not np.isfinite(glove).all():
        raise MyostreamError("Glove data contains NaN or infinite values; clean or drop those samples first.")
    if rest not in label_names:
        raise MyostreamError(f"Glove text needs rest samples, but label_names has no {rest!r} class.")
    rest_label = list(label_names).index(rest)

    starts = np.flatnonzero(np.diff(labels, prepend=labels[0] - 1) != 0)
    ends = np.append(starts[1:], len(labels))
    deltas: dict[str, list[np.ndarray]] = {}
    for i, (start, end) in enumerate(zip(starts, ends)):
        label = int(labels[start])
        if label < 0 or label == rest_label or end - start < min_samples or i == 0:
            continue
        if labels[starts[i - 1]] != rest_label:
            continue
        before = glove[max(starts[i - 1], start - rest_window) : start]
        quarter = (end - start) // 4
        hold = glove[start + quarter : end - quarter]
        deltas.setdefault(label_names[label], []).append(np.median(hold, 0) - np.median(before, 0))
    return {name: np.stack(d) for name, d in deltas.items()}


def describe_glove(
    deltas: np.ndarray,
    class_id: str = "",
    layout: Sequence[GloveSensor] = CYBERGLOVE_22,
    relative: float = 0.35,
    min_change: float = 10.0,
    min_consistency: float = 0.75,
) -> GloveText:
    """Turn one class's repetition changes (float[k, sensors]) into a process sentence.

    A digit moves when its summed joint change reaches ``relative`` times the largest
    digit's and ``min_change`` raw units (smaller changes are glove noise: in DB1 a
    finger joint's range is 20-60 units); within it, the joints that carry at least
    ``relative`` of its largest change, share its direction and agree in sign over
    ``min_consistency`` of the repetitions are named.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    if deltas.ndim != 2 or deltas.shape[1] != len(layout) or len(deltas) == 0:
        raise MyostreamError(
            f"Glove changes of class {class_id!r} must be [repetitions, {len(layout)}], got {deltas.shape}."
        )
    changes: dict[str, list[JointChange]] = {}
    for sensor in layout:
        if sensor.polarity == 0:
            continue
        signed = sensor.polarity * deltas[:, sensor.column]
        median = float(np.median(signed))
        consistency = float(np.mean(np.sign(signed) == np.sign(median))) if median else 0.0
        changes.setdefault(sensor.digit, []).append(JointChange(sensor, median, consistency))

    def bend(joints: list[JointChange]) -> float:
        return sum(j.change for j in joints if j.sensor.joint != "abduction")

    def abduction(joints: list[JointChange]) -> float:
        return sum(j.change for j in joints if j.sensor.joint == "abduction")

    size = {d: max(abs(bend(j)), abs(abduction(j))) for d, j in changes.items()}
    largest = max(size.values(), default=0.0)
    movers: list[JointChange] = []
    for digit, joints in changes.items():
        if size[digit] < max(min_change, relative * largest):
            continue
        direction = np.sign(bend(joints))
        peak = max(abs(j.change) for j in joints if j.sensor.joint != "abduction")
        for j in joints:
            if j.consistency < min_consistency:
                continue
            if j.sensor.joint == "abduction":
                # The abduction sensor also stretches when the thumb bends: name it only
                # when the sideways motion is not dwarfed by the bending.
                if abs(j.change) >= max(min_change, 0.4 * abs(bend(joints))):
                    movers.append(j)
            elif np.sign(j.change) == direction and abs(j.change) >= relative * peak:
                movers.append(j)
    movers.sort(key=lambda j: -abs(j.change))
    text = _sentence(movers) if movers else None
    return GloveText(class_id, text, len(deltas), tuple(movers))


def glove_texts(
    recordings: Iterable[tuple[np.ndarray, np.ndarray, Sequence[str]]],
    layout: Sequence[GloveSensor] = CYBERGLOVE_22,
) -> dict[str, GloveText]:
    """Glove text per class, pooling the repetitions of every (glove, labels, label_names)."""
    pooled: dict[str, list[np.ndarray]] = {}
    for glove, labels, label_names in recordings:
        if np.asarray(glove).shape[1:] != (len(layout),):
            raise MyostreamError(
                f"Glove data has {np.asarray(glove).shape[1:]} sensors; this layout has {len(layout)}."
            )
        for class_id, d in repetition_deltas(glove, labels, label_names).items():
            pooled.setdefault(class_id, []).append(d)
    return {c: describe_glove(np.concatenate(d), c, layout) for c, d in sorted(pooled.items())}


# ----------------------------------------------------------------------------- wording


def _sentence(movers: Sequence[JointChange]) -> str:
    by_digit: dict[str, list[JointChange]] = {}
    for m in movers:
        by_digit.setdefault(m.sensor.digit, []).append(m)
    digits = [d for d in DIGITS if d in by_digit]
    clauses = [_digit_clause(d, by_digit[d]) for d in digits]
    still = [d for d in DIGITS if d not in by_digit]
    motion = _join(clauses)
    if still:
        motion += f" while {_still(still, digits)} stay{'s' if len(still) == 1 else ''} still"
    finals = _join([_final(d, by_digit[d]) for d in digits])
    return f"From a relaxed hand, {motion}; the hand holds this posture with {finals}, then returns to rest."


def _digit_clause(digit: str, joints: list[JointChange]) -> str:
    parts = []
    bend = [j for j in joints if j.sensor.joint != "abduction"]
    flexing = [j for j in bend if j.change > 0]
    extending = [j for j in bend if j.change < 0]
    words = _THUMB_JOINT_WORDS if digit == "thumb" else _JOINT_WORDS
    for verb, group in (("flexes", flexing), ("extends", extending)):
        if group:
            joints_text = _join([words[j.sensor.joint] for j in sorted(group, key=lambda j: j.sensor.column)])
            parts.append(f"{verb} at its {joints_text} joint{'s' if len(group) > 1 else ''}")
    for j in joints:
        if j.sensor.joint == "abduction":
            parts.append("moves away from the index finger" if j.change > 0 else "moves toward the index finger")
    return f"{DIGIT_NAMES[digit]} {_join(parts)}"


def _final(digit: str, joints: list[JointChange]) -> str:
    bend = sum(j.change for j in joints if j.sensor.joint != "abduction")
    sideways = [j.change for j in joints if j.sensor.joint == "abduction"]
    name = DIGIT_NAMES[digit]
    if sideways:  # the sideways position is what sets a thumb posture apart when it is named
        return f"{name} {'held away from' if sideways[0] > 0 else 'drawn against'} the index finger"
    if digit == "thumb":
        return f"{name} {'bent across the palm' if bend > 0 else 'stretched out away from the palm'}"
    return f"{name} {'bent toward the palm' if bend > 0 else 'straightened and lifted'}"


def _still(still: list[str], moving: list[str]) -> str:
    fingers = [d for d in still if d != "thumb"]
    others = "the other fingers" if any(d != "thumb" for d in moving) else "the fingers"
    names = []
    if "thumb" in still:
        names.append("the thumb")
    if len(fingers) >= 3:
        names.append(others)
    else:
        names.extend(DIGIT_NAMES[d] for d in fingers)
    return _join(names)


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def glove_report(texts: Mapping[str, GloveText]) -> dict:
    """JSON-ready summary (the format the catalogs' ``glove`` files use)."""
    return {
        class_id: {
            "text": g.text,
            "repetitions": g.repetitions,
            "movers": [
                {
                    "sensor": m.sensor.column + 1,
                    "joint": f"{m.sensor.digit} {m.sensor.joint}",
                    "direction": _direction(m),
                    "change": round(m.change, 1),
                    "consistency": round(m.consistency, 2),
                }
                for m in g.movers
            ],
        }
        for class_id, g in texts.items()
    }


def _direction(m: JointChange) -> str:
    if m.sensor.joint == "abduction":
        return "abducts" if m.change > 0 else "adducts"
    return "flexes" if m.change > 0 else "extends"
