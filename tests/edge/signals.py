"""Simulated-armband signal as a recording, torch-free (the edge subprocess tests import it)."""

from __future__ import annotations

import numpy as np

from myostream.records import Recording
from myostream.stream.simulated import SimulatedArmband


def simulated_recording(seconds: float, seed: int = 3) -> Recording:
    """Signal of the simulated armband (the bundled model's device), labelled, as a recording."""
    sim = SimulatedArmband(realtime=False, seed=seed, hold_s=1.0, rest_s=0.5)
    sim.open()
    chunk = sim.generate(seconds)
    return Recording(
        emg=chunk.data,
        rate=sim.info.rate,
        labels=chunk.labels.astype(np.int16),
        label_names=sim.info.label_names,
        channel_names=sim.info.channel_names,
        subject="sim",
    )
