"""Person models: a model calibrated for one person on one device, made in a background process
and kept in the user's data folder.

A calibration session (a file :class:`~myostream.recorder.SessionRecorder` wrote) becomes a
person model in one of two ways, in a spawned process so that a GUI never waits on it
(:class:`CalibrationJob`):

- **adapted**: the base model that fits the device (the one ranking the stream, else the
  bundled one :func:`myostream.runtime.bundled_for` picks) adapted to the session by
  :func:`myostream.train.adapt.adapt_sessions` with its default options (chosen on validation
  people by ``myostream report transfer``), sessions at another rate resampled to the base's;
- **trained**: when no base fits the device, a small MyoSem trained from the session alone
  (:func:`myostream.train.recordings.train_on_recordings`, :func:`small_experiment`).

Either way the last repetition is held out and scored before and after. The model lands in
``<user data folder>/person-models/<person>--<device>/`` (``platformdirs.user_data_dir("myostream")``):
a checkpoint folder like any other plus ``person.json`` (who, which device, how, the scores),
so the live window lists it and picks it again next time. A new calibration of the same
person and device replaces the folder only once it is complete; cancelling leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import multiprocessing
import os
import queue
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from myostream.data.session import safe_name
from myostream.errors import MyostreamError
from myostream.paths import output_dir

#: the file that makes a checkpoint folder a person model
PERSON_FILE = "person.json"
#: the fine-tuning epochs' JSON-lines log inside a job's folder (what the progress bar follows)
EPOCHS_FILE = "epochs.jsonl"


def data_dir() -> Path:
    """The user's myostream data folder (``platformdirs.user_data_dir("myostream")``; on Linux it
    follows ``XDG_DATA_HOME``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("myostream"))


def person_models_dir() -> Path:
    return data_dir() / "person-models"


def calibration_sessions_dir() -> Path:
    """Where the live window's calibrations keep their session files."""
    return data_dir() / "sessions"


def device_name(spec: str) -> str:
    """The device part of a person model's name, from a source spec: the profile (``myo-lsl``),
    the LSL stream or BrainFlow board name, or a replayed file's name."""
    kind, _, arg = spec.partition(":")
    if kind in ("lsl", "brainflow") and arg:
        return arg.split("=", 1)[-1]
    if kind == "replay" and arg:
        return Path(arg).stem or Path(arg).name
    return Path(spec).stem if spec.endswith(".toml") else spec


def person_model_dir(person: str, device: str) -> Path:
    return person_models_dir() / f"{safe_name(person.strip())}--{safe_name(device.strip())}"


@dataclass(frozen=True)
class PersonModel:
    """A person model on disk: who, which device, the signal it takes, how it was made and how it scored."""

    person: str
    device: str
    path: Path
    n_channels: int
    rate: float
    created: str
    how: str
    #: EMG->text R@1 on the held-out repetition before (None: there was no model) and after
    before: float | None
    after: float | None

    def __str__(self) -> str:
        return f"{self.person} · {self.device}"


def read_person_model(folder: Path) -> PersonModel:
    try:
        info = json.loads((folder / PERSON_FILE).read_text(encoding="utf-8"))
        return PersonModel(
            str(info["person"]),
            str(info["device"]),
            folder,
            int(info["n_channels"]),
            float(info["rate"]),
            str(info["created"]),
            str(info["how"]),
            info.get("before"),
            info.get("after"),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MyostreamError(f"{str(folder)!r} is not a person model ({PERSON_FILE} unreadable: {exc}).") from None


def list_person_models(device: str | None = None) -> list[PersonModel]:
    """The saved person models (of ``device`` only, when given), newest first."""
    root = person_models_dir()
    found = []
    for folder in root.iterdir() if root.is_dir() else []:
        if folder.name.startswith(".") or not (folder / "config.json").is_file():
            continue  # a staging folder, or something else a user put there
        try:
            model = read_person_model(folder)
        except MyostreamError:
            continue
        if device is None or model.device == device:
            found.append(model)
    return sorted(found, key=lambda m: m.created, reverse=True)


def find_person_model(device: str, n_channels: int) -> PersonModel | None:
    """The newest person model of ``device`` that takes ``n_channels`` channels (reused next time)."""
    return next((m for m in list_person_models(device) if m.n_channels == n_channels), None)


def _choices_file() -> Path:
    return data_dir() / "live-models.json"


def remember_model(device: str, path: Path | None) -> None:
    """Remember the person model chosen for ``device`` (any other choice forgets it), so that the live
    window picks it again next time. Best effort: a data folder that cannot be written changes nothing."""
    try:
        choices = json.loads(_choices_file().read_text(encoding="utf-8"))
        if not isinstance(choices, dict):
            choices = {}
    except (OSError, ValueError):
        choices = {}
    if path is not None and (Path(path) / PERSON_FILE).is_file():
        choices[device] = str(Path(path).resolve())
    else:
        choices.pop(device, None)
    try:
        _choices_file().parent.mkdir(parents=True, exist_ok=True)
        _choices_file().write_text(json.dumps(choices, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass


def remembered_model(device: str) -> Path | None:
    """The person model last chosen for ``device``, if it is still there."""
    try:
        path = json.loads(_choices_file().read_text(encoding="utf-8")).get(device)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(path, str) or not (Path(path) / PERSON_FILE).is_file():
        return None
    return Path(path)


# ------------------------------------------------------------------------ making one


@dataclass(frozen=True)
class CalibrationRequest:
    """What a calibration job makes: a person model of ``person`` on ``device`` from ``session``.

    ``base``: the checkpoint to adapt (None: train a small model from the session alone, with the
    filter of ``filter_profile`` when the device has a profile). ``threads``: torch threads of the
    job's process (default: all cores but one, which the GUI keeps).
    """

    session: Path
    person: str
    device: str
    base: Path | None = None
    filter_profile: str | None = None
    threads: int | None = None
    #: small-model training: epochs of stage 2 and of stage 3's two phases, stage-1 steps
    train_epochs: tuple[int, int, int] = (8, 6, 3)
    text_steps: int = 60
    text_model: str | None = None


def small_experiment(
    path: Path,
    n_channels: int,
    rate: float,
    class_ids: list[str],
    filter_profile: str | None,
    request: CalibrationRequest,
) -> Path:
    """An experiment file for a small MyoSem of this device, trained from one session: 10 patches of
    about 20 ms, the Myo armband model's size, per-user normalisation, the last repetition held out."""
    from myostream.text.catalog import catalog_names, load_catalog

    patch = max(1, round(0.02 * rate))
    window_ms = 10 * patch * 1000.0 / rate
    catalogs = [n for n in catalog_names() if set(class_ids) & set(load_catalog(n).ids)]
    if filter_profile:
        filt = json.dumps(filter_profile)
    else:  # no profile: drop the offset and movement artefacts, keep what EMG carries
        filt = f"{{ highpass = {min(20.0, 0.1 * rate):g} }}"
    stage2, epochs_a, epochs_b = request.train_epochs
    text_model = f"model = {json.dumps(request.text_model)}\n" if request.text_model else ""
    path.write_text(
        f"""
name = "person-small"
description = "A small MyoSem trained from one person's calibration session on this device."
model = "myosem-myo"

[model_overrides]
n_channels = {n_channels}
rate = {rate!r}
window_ms = {window_ms!r}
patch = {patch}

[data]
hop_ms = {max(window_ms / 4, 1000.0 / rate):.6g}
filter = {filt}
normalisation = "channel"

[protocol]
name = "repetition"

[text]
catalogs = {json.dumps(catalogs)}
train_layers = 0
steps = {request.text_steps}
{text_model}
[stage2]
epochs = {stage2}

[stage3]
epochs_a = {epochs_a}
epochs_b = {epochs_b}
""",
        encoding="utf-8",
    )
    return path


def run_calibration(request: CalibrationRequest, work: Path, say: Any = print) -> dict[str, Any]:
    """Make the person model of ``request`` in ``work / "model"`` (in this process); returns what
    ``person.json`` records. Progress lines go to ``say``; epochs to ``work / EPOCHS_FILE``
    (adapting) or ``work / "model" / train.jsonl`` (training)."""
    from myostream.data.session import read_session

    start = time.perf_counter()
    recording = read_session(request.session)
    reps = sorted(set(recording.repetition.tolist()) - {0}) if recording.repetition is not None else []
    if len(reps) < 2:
        raise MyostreamError(
            f"The session {request.session.name!r} holds {len(reps)} complete repetition(s); calibration needs at "
            "least two (one to learn from, one held out): record the whole protocol."
        )
    out = work / "model"
    record: dict[str, Any] = {
        "person": request.person,
        "device": request.device,
        "n_channels": recording.n_channels,
        "rate": recording.rate,
        "session": str(request.session),
        "held_out": reps[-1],
    }
    if request.base is not None:
        from myostream.model.checkpoint import load_checkpoint
        from myostream.train.adapt import AdaptOptions, adapt_sessions

        options = AdaptOptions.for_model(load_checkpoint(request.base))  # the base's own calibration defaults
        say(f"plan: {options.epochs_a + options.epochs_b if options.mode != 'anchors' else 0} epochs")
        result, _ = adapt_sessions(
            request.base,
            request.session,
            out,
            options=options,
            progress=False,
            say=say,
            resample=True,
            log=work / EPOCHS_FILE,
            device="cpu",
        )
        (held,) = result.before
        record.update(
            how="adapted",
            base=str(request.base),
            before=result.before[held]["R@1"],
            after=result.after[held]["R@1"],
            mode=options.mode,
        )
    else:
        from myostream.train.recordings import train_on_recordings

        classes = [c for c in recording.label_names if (recording.labels == recording.label_names.index(c)).any()]
        config = small_experiment(
            work / "person-small.toml", recording.n_channels, recording.rate, classes, request.filter_profile, request
        )
        say(f"plan: {sum(request.train_epochs)} epochs")
        results = train_on_recordings(
            [recording],
            out,
            config=config,
            protocol_settings={"test_repetitions": [reps[-1]]},
            device="cpu",
            progress=False,
            log=say,
            cache=person_models_dir() / ".stage1",
        )
        record.update(how="trained", base=None, before=None, after=results["metrics"]["emg_to_text"]["R@1"])
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def _job_main(request: CalibrationRequest, work: Path, messages: Any) -> None:
    """The job's process: make the model, say how it goes on ``messages``."""
    import torch

    torch.set_num_threads(request.threads or max(1, (os.cpu_count() or 2) - 1))
    try:
        record = run_calibration(request, work, say=lambda line: messages.put(("say", str(line))))
    except MyostreamError as exc:
        messages.put(("error", str(exc)))
    except Exception as exc:  # a model that failed while training: still one sentence for the window
        messages.put(("error", f"Calibration failed: {exc!r}"))
    else:
        messages.put(("done", record))


@dataclass(frozen=True)
class JobProgress:
    """What a job's progress bar shows: the fraction done, what it is doing, the seconds left
    (None until an epoch has ended), and once finished the person model or the error."""

    fraction: float
    stage: str
    seconds_left: float | None
    done: bool = False
    error: str | None = None
    model: PersonModel | None = None


class CalibrationJob:
    """A person model in the making, in a spawned process: :meth:`poll` (from a GUI timer) says
    how far it is, :meth:`cancel` stops it and removes what it wrote."""

    def __init__(self, request: CalibrationRequest) -> None:
        self.request = request
        root = output_dir(person_models_dir(), "person models")  # before any work: an unwritable folder is one sentence
        self.work = root / f".staging-{uuid.uuid4().hex[:8]}"
        self.work.mkdir()
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no Qt, no threads inherited
        self._messages = context.Queue()
        self._process = context.Process(
            target=_job_main, args=(request, self.work, self._messages), name="myostream-calibration", daemon=True
        )
        self.started = time.monotonic()
        self._process.start()
        self._total_epochs: int | None = None
        self._planned_at = 0.0
        self._stage = "starting the calibration process…"
        self._result: JobProgress | None = None

    def poll(self) -> JobProgress:
        """Where the job stands now (never blocks)."""
        if self._result is not None:
            return self._result
        while True:
            alive = self._process.is_alive()
            try:  # a process that has ended may still have its last words in the pipe
                kind, value = self._messages.get(timeout=0.2) if not alive else self._messages.get_nowait()
            except (queue.Empty, OSError, ValueError):
                if not alive:
                    code = self._process.exitcode
                    return self._finish(
                        JobProgress(
                            1.0,
                            "failed",
                            None,
                            done=True,
                            error=(f"The calibration process ended unexpectedly (exit code {code})."),
                        )
                    )
                break
            if kind == "say":
                self._heard(value)
            elif kind == "error":
                return self._finish(JobProgress(1.0, "failed", None, done=True, error=value))
            elif kind == "done":
                try:
                    model = self._keep(value)
                except MyostreamError as exc:
                    return self._finish(JobProgress(1.0, "failed", None, done=True, error=str(exc)))
                return self._finish(JobProgress(1.0, "done", 0.0, done=True, model=model))
        return self._progress()

    def _heard(self, line: str) -> None:
        if line.startswith("plan: "):
            self._total_epochs = int(line.split()[1])
            self._planned_at = time.monotonic()
            self._stage = "adapting the model…" if self.request.base is not None else "training a model…"
        elif self._total_epochs is None:
            self._stage = line.strip()

    def _epochs_done(self) -> int:
        log = self.work / EPOCHS_FILE if self.request.base is not None else self.work / "model" / "train.jsonl"
        try:
            lines = log.read_text(encoding="utf-8").splitlines()
        except OSError:
            return 0
        # one record per epoch; a stage that kept an earlier epoch adds a "selected" line
        return sum(1 for line in lines if '"epoch"' in line and '"selected"' not in line)

    def _progress(self) -> JobProgress:
        total = self._total_epochs
        if total is None:
            return JobProgress(0.05, self._stage, None)
        done = min(self._epochs_done(), total)
        fraction = 0.1 + 0.85 * (done / total if total else 1.0)
        left = None
        if done:
            per_epoch = (time.monotonic() - self._planned_at) / done
            left = per_epoch * (total - done) + (self._planned_at - self.started) / 2  # then scoring and saving
        return JobProgress(fraction, f"{self._stage} epoch {done} of {total}" if total else self._stage, left)

    def _keep(self, record: dict[str, Any]) -> PersonModel:
        """Move the finished model to its place (replacing an older one of the same person and device)."""
        record = {**record, "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        staged = self.work / "model"
        (staged / PERSON_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        final = person_model_dir(self.request.person, self.request.device)
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:6]}")
        try:
            if final.exists():
                final.rename(old)
            staged.rename(final)
        except OSError as exc:
            raise MyostreamError(f"Could not save the person model in {str(final)!r}: {exc}.") from None
        shutil.rmtree(old, ignore_errors=True)
        return read_person_model(final)

    def _finish(self, result: JobProgress) -> JobProgress:
        self._result = result
        self._process.join(timeout=5)
        shutil.rmtree(self.work, ignore_errors=True)
        return result

    @property
    def running(self) -> bool:
        return self._result is None

    def cancel(self) -> None:
        """Stop the process and remove what it wrote; the session file stays. Safe to call twice."""
        if self._result is None:
            self._process.terminate()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._finish(JobProgress(1.0, "cancelled", None, done=True, error="Calibration cancelled."))
        self._messages.close()


def describe(model: PersonModel) -> str:
    """One line for a picker's tooltip: how it was made and how it scored."""
    if model.after is None:
        scores = ""
    elif model.before is None:
        scores = f"held-out top-1 {model.after:.0%}"
    else:
        scores = f"held-out top-1 {model.before:.0%} → {model.after:.0%}"
    made = "adapted from a base model" if model.how == "adapted" else "trained from the session alone"
    when = model.created[:16].replace("T", " ")
    return f"{model} · {model.n_channels} ch {model.rate:g} Hz · {made}, {when} · {scores}"


__all__ = [
    "CalibrationJob",
    "CalibrationRequest",
    "JobProgress",
    "PersonModel",
    "calibration_sessions_dir",
    "data_dir",
    "describe",
    "device_name",
    "find_person_model",
    "list_person_models",
    "person_model_dir",
    "person_models_dir",
    "read_person_model",
    "remember_model",
    "remembered_model",
    "run_calibration",
    "small_experiment",
]
