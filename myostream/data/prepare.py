"""Recordings prepared the way a model's windows are: causal filter, then each person's level.

The offline half of :mod:`myostream.preprocess` (the live half is the pipeline): training,
evaluation, adaptation and reports call :func:`prepare_recordings` with the model's
:class:`~myostream.preprocess.Preprocessing`, so offline windows match live ones.

A person's level is estimated per *wearing*: one subject's recordings of one session
(the band put on once), whatever files the session was split into, from the filtered
signal and without labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec, Preprocessing, user_scale
from myostream.records import Recording

#: (dataset, subject, session): one wearing of the band
PersonKey = tuple[str, str, str]


def person_key(recording: Recording) -> PersonKey:
    return (recording.dataset, recording.subject, recording.session)


def filter_recordings(recordings: Sequence[Recording], spec: FilterSpec | None) -> list[Recording]:
    """Each recording through the causal filter from its first sample (fresh state each, as live)."""
    from myostream.stream.filters import FilterStage

    if spec is None:
        return list(recordings)
    out = []
    for r in recordings:
        stage = FilterStage(r.rate, r.n_channels, spec)
        out.append(dataclasses.replace(r, emg=stage.process(np.asarray(r.emg[:], np.float32))))
    return out


def person_levels(
    recordings: Sequence[Recording], mode: str, seconds: float | None = None
) -> dict[PersonKey, np.ndarray]:
    """Each wearing's level (float32[C]) from its filtered recordings, in their order.

    ``seconds`` limits the estimate to the first seconds of each wearing (what a live
    stream has seen after that long); default: all of it.
    """
    groups: dict[PersonKey, list[Recording]] = {}
    for r in recordings:
        groups.setdefault(person_key(r), []).append(r)
    levels = {}
    for key, recs in groups.items():
        parts, have = [], 0
        for r in recs:
            n = r.n_samples if seconds is None else min(r.n_samples, int(round(seconds * r.rate)) - have)
            if n <= 0:
                break
            parts.append(np.asarray(r.emg[:n], np.float32))
            have += n
        try:
            levels[key] = user_scale(np.concatenate(parts), recs[0].rate, mode)
        except MyostreamError:
            raise MyostreamError(
                f"Recordings of {key[1]!r} (session {key[2]!r}) hold no movement to estimate the wearer's level from; "
                "record some movement or train without per-user normalisation."
            ) from None
    return levels


def scale_recordings(recordings: Sequence[Recording], levels: dict[PersonKey, np.ndarray]) -> list[Recording]:
    """Each recording divided by its wearing's level."""
    out = []
    for r in recordings:
        level = levels[person_key(r)]
        out.append(dataclasses.replace(r, emg=(np.asarray(r.emg[:], np.float32) / level).astype(np.float32)))
    return out


def resample_recordings(recordings: Sequence[Recording], rate: float) -> list[Recording]:
    """Each recording at ``rate`` through the live pipeline's causal resampler (recordings already at
    ``rate`` as they are). A sample keeps the time of its content (the resampler's delay taken out) and
    takes the label and repetition of the input sample at or before that time, as live windows do."""
    from myostream.stream.resample import Resampler

    out = []
    for r in recordings:
        if abs(r.rate - rate) <= 1e-6 * rate:
            out.append(r)
            continue
        t = np.arange(r.n_samples) / r.rate
        chunk = Resampler(r.rate, rate, r.n_channels).process_chunk(np.asarray(r.emg[:], np.float32), t)
        at = np.clip(np.searchsorted(t, chunk.timestamps, side="right") - 1, 0, max(r.n_samples - 1, 0))
        out.append(
            dataclasses.replace(
                r,
                emg=chunk.data,
                rate=float(rate),
                labels=r.labels[at],
                repetition=None if r.repetition is None else r.repetition[at],
                glove=None,
                pose=None,
                meta={**r.meta, "resampled_from": r.rate},
            )
        )
    return out


def prepare_recordings(
    recordings: Sequence[Recording], pre: Preprocessing, seconds: float | None = None
) -> list[Recording]:
    """Recordings as ``pre`` prepares a model's signal: its filter, then (when it normalises
    per user) each wearing divided by its own level, estimated from its first ``seconds``
    (default: all of it)."""
    for r in recordings:
        if r.n_channels != pre.n_channels or abs(r.rate - pre.rate) > 1e-6 * pre.rate:
            raise MyostreamError(
                f"Recording {r.name!r} has {r.n_channels} channels at {r.rate:g} Hz but the model takes "
                f"{pre.n_channels} channels at {pre.rate:g} Hz; use a model for this setup."
            )
    filtered = filter_recordings(recordings, pre.filter)
    if pre.normalisation == "none":
        return filtered
    return scale_recordings(filtered, person_levels(filtered, pre.normalisation, seconds))
