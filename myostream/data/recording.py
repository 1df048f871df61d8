"""One in-memory shape for every recorded EMG file, whatever its format.

Readers (NinaPro .mat, emg2pose .hdf5, Myo armband .dat, own calibration sessions)
all return a :class:`Recording`. Labels are integers into ``label_names``, whose
entries are class ids of the description catalogs (``models/descriptions/``), so
a label means the same thing in every dataset that shares the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from myostream.errors import MyostreamError


@dataclass
class Recording:
    """EMG of one file (one subject, session and exercise) with per-sample annotations.

    - ``emg``: float32[n, C] in the device's unit; ``rate`` in Hz.
    - ``labels``: int16[n], index into ``label_names`` (class ids); -1 = unlabelled.
    - ``repetition``: int16[n], repetition number per sample (0 = none, e.g. rest).
    - ``glove`` / ``pose``: optional float32[n, k] kinematics (CyberGlove sensors,
      emg2pose joint angles) aligned sample by sample with ``emg``.
    - ``lazy``: ``emg`` may be a lazily-read array-like (e.g. an h5py dataset view)
      for large files; index it rather than converting it whole.
    """

    emg: Any
    rate: float
    labels: np.ndarray
    label_names: tuple[str, ...]
    channel_names: tuple[str, ...]
    subject: str
    session: str = "1"
    exercise: str = ""
    dataset: str = ""
    unit: str = "a.u."
    repetition: np.ndarray | None = None
    glove: np.ndarray | None = None
    pose: Any = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.emg)
        where = f"Recording {self.source or self.subject!r}"
        if len(self.emg.shape) != 2:
            raise MyostreamError(f"{where}: EMG must be [samples, channels], got shape {tuple(self.emg.shape)}.")
        if self.emg.shape[1] != len(self.channel_names):
            raise MyostreamError(
                f"{where}: EMG has {self.emg.shape[1]} channels but {len(self.channel_names)} channel names."
            )
        for name in ("labels", "repetition", "glove", "pose"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise MyostreamError(f"{where}: {name} has {len(value)} samples but EMG has {n}; lengths must match.")

    @property
    def n_samples(self) -> int:
        return len(self.emg)

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def duration(self) -> float:
        return self.n_samples / self.rate
