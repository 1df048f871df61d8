"""A calibration session file of a simulated participant who follows every cue, written without the GUI."""

from __future__ import annotations

from pathlib import Path

from myostream.calibrate import Protocol, labels_from_cues, load_protocol, trial_schedule
from myostream.data.session import SessionWriter
from myostream.records import CueEvent
from myostream.stream.simulated import SimulatedArmband


def simulate_session(
    path: str | Path,
    protocol: Protocol | str = "quick",
    *,
    user: int,
    session: int,
    seed: int = 0,
    rate: float = 1000.0,
    subject: str | None = None,
) -> Path:
    """Record a calibration session from the simulated armband without the GUI.

    The armband (``schedule="manual"``) is cued by the protocol's trial schedule exactly
    as the recorder cues it; labels come from the cue events (:func:`labels_from_cues`)
    and the file is written by the session writer, so it is what ``myostream record``
    would have written for a participant who follows every cue.
    """
    protocol = load_protocol(protocol) if isinstance(protocol, str) else protocol
    sim = SimulatedArmband(rate=rate, seed=seed, user=user, session=session, schedule="manual", realtime=False)
    trials = trial_schedule(protocol)
    events = [CueEvent(0.0, "start")]
    for t in trials:
        events += [
            CueEvent(t.start_s, "hold", t.gesture, t.repetition),
            CueEvent(t.start_s + t.hold_s, "rest", t.gesture, t.repetition),
        ]
    events.append(CueEvent(trials[-1].end_s, "end"))
    writer = SessionWriter(
        path,
        rate=rate,
        channel_names=sim.info.channel_names,
        label_names=protocol.label_names,
        subject=subject or f"sim-user{user}",
        session=str(session),
        unit=sim.info.unit,
        device="simulated",
        protocol=protocol.name,
        source_label_names=sim.info.label_names,
    )
    try:
        for event, following in zip(events, events[1:]):
            gesture = event.gesture if event.kind == "hold" and event.gesture in sim.info.label_names else "rest"
            sim.set_gesture(gesture)
            n = round(following.time * rate) - round(event.time * rate)
            if n <= 0:
                continue
            chunk = sim.generate(n / rate)
            labels, repetition = labels_from_cues(chunk.timestamps, events, protocol.label_names)
            writer.append(chunk.data, chunk.timestamps, labels, repetition, chunk.labels)
        for event in events:
            writer.add_event(event)
    finally:
        writer.close()
    return Path(path)
