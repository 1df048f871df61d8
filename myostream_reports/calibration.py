"""``myostream report calibration``: calibrating from the live window, end to end, measured.

Both people go through the real window headless, the same steps a user takes: press
Calibrate…, type the name, follow the cues; the person model is made in a background process
and swapped into the running pipeline.

1. :func:`simulated_person`: a simulated person the bundled model never saw (user 11), the
   simulated armband following the ``quick`` protocol's cues; live top-1 on that person's own
   gesture schedule before and after, on one stream that never restarts.
2. :func:`myo_person`: a real Myo armband person (EvaluationDataset): their ``training0``
   session replayed as the device (:class:`~myostream.stream.replay.CuedReplaySource`), following
   a protocol built from its files (each ``classe_<i>.dat`` one held gesture, in file order),
   calibrated from the bundled Myo base; live top-1 on their ``Test0`` session (another day, the
   band put on again) before and after, and the wall time from "Calibrate" to ranking live.

Live top-1 counts every ranking whose window has a true class, once the wearer's level has
settled. Each function takes a :class:`~myostream_reports.headless.Wait` (the report's own event
loop, or a test's qtbot) and returns its numbers; the slow test asserts on the same functions.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream_reports.headless import Wait, Waiter, offscreen_app, scratch_user_data

#: the Myo person calibrated, their calibration session and the session they are measured on
MYO_PERSON, MYO_TRAINING, MYO_TEST = "Male0", "training0", "Test0"
#: how much faster than real time the Myo sessions replay (the protocol's cues run as fast)
MYO_SPEED = 10.0
#: the simulated person (a user id the bundled model never saw), their protocol and its speed-up
SIM_USER, SIM_PROTOCOL, SIM_SPEED = 11, "quick", 2.0
#: seconds of the simulated person's live stream scored before and after calibrating
SIM_SECONDS = 60.0
#: only stops a hung run; nothing here is timed against it
PATIENCE_S = 1800.0


def live_top1(window: Any, wait: Wait, seconds: float | None = None) -> tuple[float, int, dict[str, Any] | None]:
    """Top-1 of the window's live rankings over ``seconds`` of wall time (None: until the replay
    ends): the share of rankings whose first description is the true class, once the wearer's
    level settled; how many rankings were scored; and, when the base self-calibrated to the
    wearer meanwhile, the top-1 of the rankings its self-calibrated model made (else None)."""
    got: list[tuple[Any, bool]] = []
    pipeline = window.pipeline
    first = pipeline.ranker
    # called on the worker thread, every hop (none dropped by drawing), after the worker took any new model
    pipeline.on_ranking = lambda r: got.append((r, pipeline.ranker is not first))
    if seconds is not None:
        wait.settle(seconds)
    else:
        wait.until(lambda: pipeline.source.exhausted or pipeline.error is not None, PATIENCE_S)
        wait.settle(0.5)  # the last windows of the replay
    pipeline.on_ranking = None
    if pipeline.error is not None:
        raise MyostreamError(f"The live stream stopped while it was scored: {pipeline.error}")
    scored = [
        (r.top[0].class_id == r.true_class, own) for r, own in list(got) if r.true_class is not None and not r.settling
    ]
    if not scored:
        raise MyostreamError(f"No ranking of {window.source_spec} had a true class to score.")
    own = [hit for hit, by_own in scored if by_own]
    self_calibrated = (
        {"top1": round(statistics.fmean(own), 3), "rankings": len(own), **pipeline.self_calibration}
        if own and pipeline.self_calibration is not None
        else None
    )
    return statistics.fmean(hit for hit, _ in scored), len(scored), self_calibrated


def band(window: Any) -> str | None:
    """How the pipeline found the band sits (the correction it applies: a turn in half-electrode steps, mirrored or not), for a ring model."""
    o = window.pipeline.orientation
    return (
        None
        if o is None
        else ("as trained" if o.identity else f"turned {o.shift} electrodes" + (", mirrored" if o.mirror else ""))
    )


def _click(button: Any) -> None:
    if not (button.isEnabled() and button.isVisible()):
        raise MyostreamError(f"The window's {button.text()!r} button cannot be pressed now.")
    button.click()


def calibrate(window: Any, wait: Wait, person: str, **form: Any) -> dict[str, float]:
    """Press Calibrate…, fill the form in (``form``: protocol, speed), type ``person``, start, and
    follow it until the person's model ranks live; the panel's step times (seconds from Calibrate…)."""
    _click(window.calibrate_button)
    window.calibrate(**form)
    panel = window.calibration
    panel.person.setText(person)
    _click(panel.start_button)
    if panel.page == "form":  # the recording did not start: the form says why
        raise MyostreamError(f"Calibrating {person} did not start: {panel.form_note.text()}")

    def closed() -> bool:  # a recording that failed closes the panel and says why in the banner
        return window.right.currentWidget() is not panel

    wait.until(lambda: "live_s" in panel.timings or bool(panel.model_error.text()) or closed(), PATIENCE_S)
    if panel.model_error.text() or closed():
        raise MyostreamError(f"Calibrating {person} failed: {panel.model_error.text() or window.banner.text()}")
    return dict(panel.timings)


def _opened(window: Any, wait: Wait, before: Any = None) -> None:
    """Show the window and wait for the first rankings of a (new) pipeline."""
    wait.until(
        lambda: window.pipeline is not None and window.pipeline is not before and window.rankings.updates > 0,
        PATIENCE_S,
    )


def _outcome(
    before: float, after: float, n_before: int, n_after: int, bands: tuple[Any, Any], model: Any, timings: dict
) -> dict[str, Any]:
    """What both scenarios report after their own description: live top-1 before and after, the band,
    the held-out scores, and the step times."""
    return {
        "live_top1_before": round(before, 3),
        "live_top1_after": round(after, 3),
        "rankings": [n_before, n_after],
        "band": list(bands),
        **_scores(model),
        "calibrate_to_live_s": timings["live_s"],
        "timings_s": timings,
    }


def _scores(model: Any) -> dict[str, Any]:
    held = json.loads((model.path / "person.json").read_text(encoding="utf-8")).get("held_out")
    return {
        "held_out_repetition": held,
        "held_out_top1_before": model.before,
        "held_out_top1_after": model.after,
        "how": model.how,
    }


def simulated_person(wait: Wait, seconds: float = SIM_SECONDS, speed: float = SIM_SPEED) -> dict[str, Any]:
    """Scenario 1: simulated user 11 with the bundled model, calibrated with the ``quick`` protocol
    (cues ``speed`` times faster); live top-1 over ``seconds`` before and after."""
    from myostream.apps.live import LiveWindow

    from myostream.runtime import bundled_checkpoint
    from myostream.stream.simulated import SimulatedArmband

    base = bundled_checkpoint()
    person = SimulatedArmband(user=SIM_USER, schedule="random", hold_s=2.0, rest_s=1.0)
    window = LiveWindow(source=person, model=base, device="cpu")
    window.resize(1440, 880)
    window.show()
    try:
        window.start()
        wait.until(lambda: window.pipeline is not None and window.rankings.updates > 10, PATIENCE_S)
        pipeline = window.pipeline
        before, n_before, _ = live_top1(window, wait, seconds)
        band_before = band(window)
        timings = calibrate(window, wait, f"sim-user{SIM_USER}", protocol=SIM_PROTOCOL, speed=speed)
        if window.pipeline is not pipeline:
            raise MyostreamError("The stream restarted while calibrating; it must run on throughout.")
        after, n_after, _ = live_top1(window, wait, seconds)
        band_after = band(window)
        model = window.calibration.person_model
        return {
            "person": f"simulated user {SIM_USER}",
            "base": base.name,
            "protocol": SIM_PROTOCOL,
            "cue_speed": speed,
            "scored_s": seconds,
            **_outcome(before, after, n_before, n_after, (band_before, band_after), model, timings),
        }
    finally:
        window.close()


def myo_protocol(training: Any, path: Path) -> Path:
    """The protocol a Myo dataset session followed, built from its files: ``classe_<i>.dat`` holds
    class ``i % 7`` in cycle ``i // 7``, the same seconds each, back to back: the seven classes in
    file order, one round per cycle."""
    from myostream.data.myo import MYO_CLASSES

    cycles = int(training.repetition.max())
    hold_s = training.n_samples / training.rate / (cycles * len(MYO_CLASSES))
    path.write_text(
        f'name = "myo-evaluation"\ndescription = "The Myo armband dataset\'s {MYO_TRAINING} protocol."\n'
        f"gestures = {json.dumps(list(MYO_CLASSES))}\nrepetitions = {cycles}\nhold_s = {hold_s:g}\nrest_s = 0\n"
        'lead_in_s = 2\norder = "interleaved"\n',
        encoding="utf-8",
    )
    return path


def myo_person(wait: Wait, myo_dir: str | Path, speed: float = MYO_SPEED, person: str = MYO_PERSON) -> dict[str, Any]:
    """Scenario 2: a real Myo person, the bundled Myo base; ``training0`` replayed as the device that
    follows the cues, ``Test0`` (replayed ``speed`` times faster) scored before and after."""
    from myostream.apps.live import LiveWindow

    from myostream.data.myo import read_myo_session
    from myostream.runtime import bundled_for
    from myostream.stream.replay import CuedReplaySource, ReplaySource

    folder = Path(myo_dir) / "EvaluationDataset" / person
    if not (folder / MYO_TRAINING).is_dir() or not (folder / MYO_TEST).is_dir():
        raise MyostreamError(
            f"The Myo armband sessions {folder / MYO_TRAINING} and {folder / MYO_TEST} are not there; give --data "
            "the folder that holds myo-armband/EvaluationDataset."
        )
    training, test = read_myo_session(folder / MYO_TRAINING), read_myo_session(folder / MYO_TEST)
    base = bundled_for(training.n_channels, training.rate)
    window = LiveWindow(source=ReplaySource(test, speed=speed), model=base.path, device="cpu")
    window.resize(1440, 880)
    window.show()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            window.start()
            _opened(window, wait)
            before, n_before, self_calibrated = live_top1(window, wait)
            band_before = band(window)

            pipeline = window.pipeline
            window.set_source(CuedReplaySource(training, speed=speed, name=f"{person} {MYO_TRAINING}"))
            _opened(window, wait, pipeline)
            timings = calibrate(
                window, wait, person, protocol=str(myo_protocol(training, Path(tmp) / "myo.toml")), speed=speed
            )
            model = window.calibration.person_model

            pipeline = window.pipeline
            window.set_source(ReplaySource(test, speed=speed))
            _opened(window, wait, pipeline)
            if window.model_path != model.path:
                raise MyostreamError(
                    f"The window ranks {person}'s test session with {window.model_path}, not their model."
                )
            after, n_after, _ = live_top1(window, wait)
            band_after = band(window)
        finally:
            window.close()
    return {
        "person": f"Myo armband {person}",
        "base": str(base),
        "calibrated_on": MYO_TRAINING,
        "scored_on": MYO_TEST,
        "replay_speed": speed,
        **_outcome(before, after, n_before, n_after, (band_before, band_after), model, timings),
        "self_calibrated_before": self_calibrated,
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on (wall times depend on it)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
    }


def _band(found: list[str | None]) -> str:
    return "—" if found == [None, None] else " → ".join(f or "—" for f in found)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _self_calibration_lines(record: dict[str, Any] | None) -> list[str]:
    """What the base did on its own before the person calibrated: self-calibrating to the wearer."""
    if record is None:
        return []
    return [
        "- **Before, self-calibrated**: once the band's orientation was known, the bundled base calibrated",
        f"  itself to the wearer on {record['labelled']} of their first {record['windows']} windows, labelled by",
        f"  itself (confidence >= {record['confidence']:g}, {len(record['classes'])} gestures, no labels asked);",
        f"  the {record['rankings']} live rankings its model made from then on: top-1 {_pct(record['top1'])}",
        '  (within the "before" column).',
    ]


def render(results: dict[str, Any]) -> str:
    """README.md of the report."""
    rows = []
    for key in ("simulated", "myo"):
        r = results.get(key)
        if r is None:
            continue
        speed = f"cues {r['cue_speed']:g}×" if key == "simulated" else f"replay and cues {r['replay_speed']:g}×"
        rows.append(
            f"| {r['person']} | {r['base']} | {_pct(r['live_top1_before'])} → **{_pct(r['live_top1_after'])}** "
            f"({r['rankings'][0]} / {r['rankings'][1]} rankings) | {_pct(r['held_out_top1_before'])} → "
            f"{_pct(r['held_out_top1_after'])} (repetition {r['held_out_repetition']}) "
            f"| {r['calibrate_to_live_s']:.0f} s | {speed} | {_band(r['band'])} |"
        )
    m = results["machine"]
    return "\n".join(
        [
            "# Calibrating from the live window, end to end",
            "",
            f"Made by `{results['command']}` on {results['date']} (the person models go to a scratch data folder).",
            "Each person goes through the real window headless, as a user would: Calibrate…, name, follow the cues;",
            "the model is made in a background process and swapped into the running stream.",
            "",
            "| person | base model | live top-1 before → after | held-out repetition top-1 before → after "
            "| Calibrate… → live | speed | band before → after |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "- **Live top-1**: the share of live rankings whose first description is the true class, every",
            "  hop whose window has one, once the wearer's level has settled (the pipeline's own flag).",
            "  Simulated user 11: their own random gesture schedule for "
            f"{results.get('simulated', {}).get('scored_s', SIM_SECONDS):g} s before and after, on one stream",
            "  that never restarts. Myo: the person's `Test0` session (another day, the band put on again),",
            "  replayed start to end before and after; calibration on their `training0` session, replayed as",
            "  the device following a protocol built from its files (seven gestures in file order, four rounds).",
            *_self_calibration_lines(results.get("myo", {}).get("self_calibrated_before")),
            "- **Held-out repetition**: the calibration's own score, the last repetition of the session left",
            "  out of the adaptation (what the window shows after calibrating).",
            "- **Calibrate… → live**: wall time from pressing Calibrate… to the person's model ranking the",
            "  stream: recording the protocol (sped up as the speed column says), making the model, the swap.",
            "  At real speed the recording takes that many times longer; making the model does not change.",
            "- **Band**: the turn the pipeline estimated from the wearer's first windows (ring",
            "  models only). The base compares with the training people's level profile; a person model with",
            "  the level profile of the person's own calibration, the wearing it learnt. A wrong turn costs most",
            "  of the top-1, so it is reported beside it.",
            "",
            f"Machine: {m['processor']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; load average "
            f"{' / '.join(f'{x:g}' for x in m['load_average_1_5_15'])} when it started (shared with other jobs, so",
            "wall times are upper bounds). Numbers: `results.json`.",
            "",
        ]
    )


def calibration_command(data: str | Path, out: str | Path, speed: float = MYO_SPEED) -> int:
    """``myostream report calibration [--data DIR] [--out DIR] [--speed S]``: both scenarios → ``out``."""
    from myostream.paths import output_dir

    myo_dir = Path(data) / "myo-armband"
    if not (myo_dir / "EvaluationDataset").is_dir():
        raise MyostreamError(
            f"The Myo armband recordings are not in {myo_dir / 'EvaluationDataset'}; give --data the shared data "
            "folder that holds myo-armband/."
        )
    out = output_dir(Path(out), "the calibration report")  # before minutes of calibrating
    wait = Waiter(offscreen_app())
    results: dict[str, Any] = {
        "command": shlex.join(["myostream", "report", "calibration", "--data", str(data), "--speed", f"{speed:g}"]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
    }
    started = time.monotonic()
    with scratch_user_data():
        results["simulated"] = simulated_person(wait)
        print(f"simulated: {json.dumps(results['simulated'])}", flush=True)
        results["myo"] = myo_person(wait, myo_dir, speed=speed)
        print(f"myo: {json.dumps(results['myo'])}", flush=True)
    results["wall_s"] = round(time.monotonic() - started, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(render(results), encoding="utf-8")
    print(f"wrote README.md, results.json to {out}")
    return 0
