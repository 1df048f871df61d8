"""``myostream report reliability``: every bad input we know of, what the program does with it.

Each case runs as a real subprocess: the ``myostream`` command line, or a short Python
script where the input goes through the library or a window (offscreen). Its exit code
and the sentence it printed go into a table (``docs/reliability.md``). A case fails when
anything prints a traceback, crashes (a signal), stays silent about bad input (exit code
0, nothing said), or exits with another code than its expectation:

- ``refused``: bad input stops the command with one sentence and exit code 2;
- ``handled``: the command goes on (a session cut short is read, a window keeps running)
  and says what happened in one sentence (stderr or the window's banner);
- ``works``: a former defect where the right answer is simply to work (exit code 0).

Every file the cases need is written fresh into a temporary folder in its real format
(NinaPro ``.mat``, session ``.h5`` written by :class:`SessionWriter`, checkpoints copied
from the bundled one and then damaged), so anyone can rerun the report.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from myostream.resources import resource_dir

REPO = Path(__file__).resolve().parents[1]
#: where `myostream report reliability` writes by default (the report names --out only when it differs)
DEFAULT_OUT = Path("docs") / "reliability.md"
EXPECTATIONS = ("refused", "handled", "works")
#: stderr lines that are not the program speaking (Qt's offscreen plugin, liblsl's own log).
_NOISE = ("This plugin does not support", "QBackingStore::flush()")


# ----------------------------------------------------------------------------- fixtures


def read_only_folder(root: Path) -> Path:
    """A folder nobody may write into: ``root/read-only`` with mode 555, or, where permission
    bits do not bind (root), ``/sys/fs``, which no process may add files to."""
    folder = root / "read-only"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    try:
        (folder / ".probe").write_text("")
    except OSError:
        return folder
    (folder / ".probe").unlink()
    return Path("/sys/fs")


class Workspace:
    """Fresh inputs for the cases, in the formats the readers know, inside ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bundled = resource_dir("models") / "bundled" / "simulated"
        self.read_only = read_only_folder(root)
        self.a_file = self._text("a-file.txt", "not a folder\n")
        self.missing = root / "missing"
        self.empty_folder = root / "empty-folder"
        self.empty_folder.mkdir()
        self.db1 = self._db1("S1_A1_E1.mat")
        self.db1_nan = self._db1("S2_A1_E1.mat", nan_at=(50, 3))
        self.db1_bad_name = self._db1(os.fsdecode(b"S3_A1_E1\xff.mat"))
        self.empty_mat = self._text("S4_A1_E1.mat", "")
        self.text_mat = self._text("S5_A1_E1.mat", "this is not a MATLAB file\n")
        self.unknown_suffix = self._text("recording.xyz", "1,2,3\n")
        self.random_h5 = self._bytes("random.h5", os.urandom(4096))
        self.plain_h5 = self._plain_h5("plain.h5")
        self.odd_dat = self._bytes("Female0/Test0/classe_0.dat", b"\x01" * 7)
        self.session = self._session("complete.h5")
        self.killed = self._killed_session("killed.h5")
        self.bad_labels = self._bad_labels("bad-labels.h5")
        self.pickled_text_model, self.pickle_marker = self._pickled_text_model("pickled-text-model")
        self.ckpt_dim = self._checkpoint("ckpt-text-dim", text_encoder={"dim": 128})
        self.ckpt_pickle = self._checkpoint("ckpt-text-pickle", text_encoder={"model": str(self.pickled_text_model)})
        self.ckpt_corrupt = self._checkpoint("ckpt-corrupt", damage="weights.safetensors")
        self.bad_protocol = self._text(
            "bad-protocol.toml",
            'name = "bad"\ndescription = "x"\ngestures = ["rest", "fist"]\n'
            'repetitions = "two"\nhold_s = 3.0\nrest_s = 2.0\n',
        )
        self.bad_device = self._text(
            "bad-device.toml", 'name = "bad"\ntransport = "simulated"\nrate = "fast"\nchannels = 8\nunit = "mV"\n'
        )
        self.not_toml = self._text("not-toml.toml", "name = [unclosed\n")

    # -- writers ------------------------------------------------------------------------

    def _text(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def _bytes(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def _db1(self, name: str, nan_at: tuple[int, int] | None = None) -> Path:
        """A NinaPro DB1 exercise file (10 electrodes, 100 Hz, stimulus/repetition columns)."""
        import scipy.io

        rng = np.random.default_rng(1)
        n = 2000
        emg = (0.1 * rng.standard_normal((n, 10))).astype(np.float64)
        stimulus = np.zeros(n)
        for k, code in enumerate((1, 2, 3)):
            stimulus[200 + 500 * k : 500 + 500 * k] = code
        repetition = (stimulus > 0).astype(float)
        if nan_at is not None:
            emg[nan_at] = np.nan
        path = self.root / name
        scipy.io.savemat(
            path,
            {
                "emg": emg,
                "stimulus": stimulus[:, None],
                "restimulus": stimulus[:, None],
                "repetition": repetition[:, None],
                "rerepetition": repetition[:, None],
                "subject": np.array([[1]]),
                "exercise": np.array([[1]]),
            },
        )
        return path

    def _plain_h5(self, name: str) -> Path:
        import h5py

        path = self.root / name
        with h5py.File(path, "w") as f:
            f["data"] = np.zeros((10, 2))
        return path

    def _session(self, name: str, close: bool = True) -> Path:
        """A short calibration session written by the recorder's own writer."""
        return _write_session(self.root / name, close=close)

    def _killed_session(self, name: str) -> Path:
        """A session whose writer died without closing it (a killed recorder), in its own process."""
        path = self.root / name
        code = (
            f"import os, sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from myostream_reports.reliability import _write_session\n"
            f"_write_session({str(path)!r}, close=False, repetitions=1)\nos._exit(0)\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        return path

    def _bad_labels(self, name: str) -> Path:
        import h5py

        path = self._session(name)
        with h5py.File(path, "r+") as f:
            f["labels"][10] = 9  # the session names 2 classes
        return path

    def _pickled_text_model(self, name: str) -> tuple[Path, Path]:
        """A text model folder whose only weights are a pickle that would write a file when unpickled."""
        from myostream.text.encoder import default_model_path

        folder = self.root / name
        shutil.copytree(default_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
        marker = self.root / "pickle-was-loaded"
        with open(folder / "pytorch_model.bin", "wb") as f:
            pickle.dump(_Unpickled(str(marker)), f)
        return folder, marker

    def _checkpoint(self, name: str, text_encoder: dict | None = None, damage: str | None = None) -> Path:
        folder = self.root / name
        shutil.copytree(self.bundled, folder)
        if text_encoder:
            config = json.loads((folder / "text_encoder.json").read_text())
            (folder / "text_encoder.json").write_text(json.dumps({**config, **text_encoder}))
        if damage:
            (folder / damage).write_bytes(b"\x00" * 64)
        return folder

    def experiment(self, name: str, data: str = "", extra: str = "") -> Path:
        """A small simulated experiment; ``data`` lines replace or add keys of its [data] table."""
        table = {"source": '"simulated"', "seconds": "5", "users": "2"}
        for line in filter(None, data.splitlines()):
            key, value = line.split(" = ", 1)
            table[key] = value
        lines = "\n".join(f"{k} = {v}" for k, v in table.items())
        return self._text(f"{name}.toml", f'name = "{name}"\nmodel = "myosem-simulated"\n{extra}\n[data]\n{lines}\n')


class _Unpickled:
    """Unpickling this object creates a file: proof that a loader ran pickled code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _write_session(path: str | Path, close: bool = True, repetitions: int = 2) -> Path:
    """Four seconds of 8-channel noise, alternating rest and fist holds of 0.1 s, in ``repetitions`` repetitions."""
    from myostream.data.session import SessionWriter

    rng = np.random.default_rng(0)
    writer = SessionWriter(
        path,
        rate=1000.0,
        channel_names=[f"EMG{i + 1}" for i in range(8)],
        label_names=["rest", "fist"],
        subject="R1",
        flush_s=0.0,
    )
    blocks = 40
    for k in range(blocks):
        t = 100.0 + k * 0.1 + np.arange(100) / 1000.0
        labels = np.full(100, k % 2, np.int16)
        repetition = labels * (1 + k * repetitions // blocks)
        writer.append(rng.standard_normal((100, 8)).astype(np.float32), t, labels, repetition.astype(np.int16))
    if close:
        writer.close()
    else:
        writer.flush()
    return Path(path)


# ----------------------------------------------------------------------------- cases


Args = Callable[[Workspace], Sequence[str]]


@dataclass(frozen=True)
class Case:
    """One input and what must happen with it."""

    id: str
    area: str
    what: str
    #: the ``myostream`` arguments, or (with ``script``) nothing
    args: Args | None = None
    #: Python code run instead of the command line (``w`` is the Workspace; MyostreamError -> exit 2)
    script: str | None = None
    expect: str = "refused"
    #: text the sentence must contain (it names the thing)
    needs: str = ""
    #: a problem with the outcome beyond exit code and sentence (a folder left behind ...)
    check: Callable[[Workspace], str | None] | None = None
    #: (text on stderr to wait for, signal to send then)
    interrupt: tuple[str, int] | None = None
    #: limit the size of files the process may write (a disk that fills up)
    file_size_limit: int | None = None
    #: run while the process waits for its signal; returns (problem or None, what was seen)
    during: Callable[[subprocess.Popen, Workspace], tuple[str | None, str]] | None = None
    timeout: float = 120.0


@dataclass
class Outcome:
    case: Case
    code: int | str
    message: str
    problem: str | None
    seconds: float
    stderr: str = field(repr=False, default="")

    @property
    def passed(self) -> bool:
        return self.problem is None


def _no_folder(path: Callable[[Workspace], Path]) -> Callable[[Workspace], str | None]:
    return lambda w: f"{path(w)} was left behind" if path(w).exists() else None


def _pickle_not_loaded(w: Workspace) -> str | None:
    return "the pickled weights were unpickled (their code ran)" if w.pickle_marker.exists() else None


def _screenshot_written(path: Callable[[Workspace], Path]) -> Callable[[Workspace], str | None]:
    return lambda w: None if path(w).is_file() and path(w).stat().st_size > 0 else f"no screenshot at {path(w)}"


def _loopback_sockets(proc: subprocess.Popen, w: Workspace) -> tuple[str | None, str]:
    """Every TCP socket listening and every UDP socket bound by the process, with their addresses."""
    sockets = process_sockets(proc.pid)
    listening = [s for s in sockets if s[0].startswith("udp") or s[3] == "LISTEN"]
    if not listening:
        return "the process opened no LSL sockets", ""
    wide = [f"{p} {a}:{port}" for p, a, port, _ in listening if a not in ("127.0.0.1", "::1")]
    seen = ", ".join(sorted({f"{p} {a}" for p, a, _, _ in listening}))
    if wide:
        return f"listening beyond loopback: {', '.join(wide)}", seen
    return None, f"{len(listening)} sockets, all on loopback ({seen})"


def process_sockets(pid: int) -> list[tuple[str, str, int, str]]:
    """(protocol, local address, port, state) of every IP socket process ``pid`` holds (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    states = {"0A": "LISTEN", "01": "ESTABLISHED", "07": "UNCONN"}
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[9] not in inodes:
                continue
            address, port = parts[1].split(":")
            raw = bytes.fromhex(address)
            if len(raw) == 4:
                ip = ".".join(str(b) for b in reversed(raw))
            else:
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                ip = (
                    "::1"
                    if b"".join(words) == bytes(15) + b"\x01"
                    else ":".join(b"".join(words).hex()[i : i + 4] for i in range(0, 32, 4))
                )
            found.append((proto, ip, int(port, 16), states.get(parts[3], parts[3])))
    return found


def cases() -> list[Case]:
    """Every case, in table order."""
    c: list[Case] = []

    def add(*args, **kw) -> None:
        c.append(Case(*args, **kw))

    # -- sources and streams -------------------------------------------------------------
    add(
        "stream-unknown-device",
        "stream",
        "`stream --source nosuch` (no such device profile)",
        lambda w: ["stream", "--source", "nosuch", "--duration", "1"],
        needs="nosuch",
    )
    add(
        "stream-empty-source",
        "stream",
        "`stream --source ''` (empty source)",
        lambda w: ["stream", "--source", "", "--duration", "1"],
        needs="empty",
    )
    add(
        "stream-lsl-empty",
        "stream",
        "`stream --lsl ''` (old spelling, empty stream name; streamed the simulator)",
        lambda w: ["stream", "--lsl", "", "--duration", "1"],
        needs="lsl:",
    )
    add(
        "stream-lsl-prefix-only",
        "stream",
        "`stream --source lsl:` (prefix without a name)",
        lambda w: ["stream", "--source", "lsl:", "--duration", "1"],
        needs="lsl:",
    )
    add(
        "stream-lsl-missing",
        "stream",
        "`stream --source lsl:nosuch --timeout 2` (a stream that never appears)",
        lambda w: ["stream", "--source", "lsl:myostream-reliability-nosuch", "--timeout", "2"],
        needs="within 2 s",
    )
    add(
        "stream-lsl-bad-query",
        "stream",
        "`stream --source lsl:colour=red` (unknown LSL query key)",
        lambda w: ["stream", "--source", "lsl:colour=red"],
        needs="colour=red",
    )
    add(
        "stream-lsl-profile-missing",
        "stream",
        "`stream --source myo-lsl --timeout 1` (device profile whose stream is absent)",
        lambda w: ["stream", "--source", "myo-lsl", "--timeout", "1"],
        needs="appeared",
    )
    add(
        "stream-brainflow-unknown",
        "stream",
        "`stream --source brainflow:NOPE_BOARD`",
        lambda w: ["stream", "--source", "brainflow:NOPE_BOARD", "--duration", "1"],
        needs="NOPE_BOARD",
    )
    add(
        "stream-replay-missing",
        "stream",
        "`stream --source replay:missing.mat`",
        lambda w: ["stream", "--source", f"replay:{w.missing}.mat", "--duration", "1"],
        needs="does not exist",
    )
    add(
        "stream-device-toml-bad-type",
        "stream",
        '`stream --source bad-device.toml` (rate = "fast")',
        lambda w: ["stream", "--source", str(w.bad_device), "--duration", "1"],
        needs="rate",
    )
    add(
        "stream-duration-negative",
        "stream",
        "`stream --duration -1`",
        lambda w: ["stream", "--duration", "-1"],
        needs="--duration",
    )
    add(
        "stream-duration-nan",
        "stream",
        "`stream --duration nan`",
        lambda w: ["stream", "--duration", "nan"],
        needs="--duration",
    )
    add(
        "stream-timeout-zero",
        "stream",
        "`stream --timeout 0`",
        lambda w: ["stream", "--timeout", "0"],
        needs="--timeout",
    )
    add(
        "stream-publish-empty",
        "stream",
        "`stream --publish ''` (empty LSL name)",
        lambda w: ["stream", "--publish", "", "--duration", "1"],
        needs="empty",
    )
    add(
        "stream-two-sources",
        "stream",
        "`stream --source simulated --lsl X` (two sources)",
        lambda w: ["stream", "--source", "simulated", "--lsl", "X"],
        needs="once",
    )

    # -- replay --------------------------------------------------------------------------
    add(
        "replay-missing",
        "replay",
        "`replay missing.mat`",
        lambda w: ["replay", f"{w.missing}.mat"],
        needs="does not exist",
    )
    add(
        "replay-empty-mat",
        "replay",
        "`replay` of an empty .mat file",
        lambda w: ["replay", str(w.empty_mat)],
        needs="S4_A1_E1.mat",
    )
    add(
        "replay-text-mat",
        "replay",
        "`replay` of a text file named .mat",
        lambda w: ["replay", str(w.text_mat)],
        needs="S5_A1_E1.mat",
    )
    add(
        "replay-unknown-suffix",
        "replay",
        "`replay recording.xyz`",
        lambda w: ["replay", str(w.unknown_suffix)],
        needs=".xyz",
    )
    add(
        "replay-random-h5",
        "replay",
        "`replay` of random bytes named .h5",
        lambda w: ["replay", str(w.random_h5)],
        needs="random.h5",
    )
    add(
        "replay-plain-h5",
        "replay",
        "`replay` of an HDF5 file that is no session",
        lambda w: ["replay", str(w.plain_h5)],
        needs="plain.h5",
    )
    add(
        "replay-odd-dat",
        "replay",
        "`replay` of a Myo .dat with a partial sample",
        lambda w: ["replay", str(w.odd_dat)],
        needs="classe_0.dat",
    )
    add(
        "replay-folder",
        "replay",
        "`replay` of a folder without recordings",
        lambda w: ["replay", str(w.empty_folder)],
        needs="folder",
    )
    add(
        "replay-db1-as-db2",
        "replay",
        "`replay S1_A1_E1.mat --database db2` (a DB1 file, 100 Hz, published as 2 kHz)",
        lambda w: ["replay", str(w.db1), "--database", "db2", "--duration", "1"],
        needs="DB2",
    )
    add(
        "replay-unknown-database",
        "replay",
        "`replay S1_A1_E1.mat --database db9`",
        lambda w: ["replay", str(w.db1), "--database", "db9"],
        needs="db9",
    )
    add(
        "replay-speed-too-fast",
        "replay",
        "`replay --speed 100`",
        lambda w: ["replay", str(w.db1), "--speed", "100"],
        needs="speed",
    )
    add(
        "replay-speed-negative",
        "replay",
        "`replay --speed -1`",
        lambda w: ["replay", str(w.db1), "--speed", "-1"],
        needs="--speed",
    )
    add(
        "replay-start-beyond",
        "replay",
        "`replay --start 99999` (beyond the end)",
        lambda w: ["replay", str(w.db1), "--start", "99999"],
        needs="outside",
    )
    add(
        "replay-duration-zero",
        "replay",
        "`replay --duration 0`",
        lambda w: ["replay", str(w.db1), "--duration", "0"],
        needs="--duration",
    )
    add(
        "replay-name-not-utf8",
        "replay",
        "`replay --lsl NAME` with a name that is not UTF-8",
        lambda w: ["replay", str(w.db1), "--lsl", os.fsdecode(b"x\xff")],
        needs="UTF-8",
    )
    add(
        "replay-file-name-not-utf8",
        "replay",
        "`replay` of a file whose name is not UTF-8 (pylsl refused the stream name)",
        lambda w: ["replay", str(w.db1_bad_name), "--speed", "10", "--duration", "1"],
        expect="works",
    )
    add(
        "replay-nan",
        "replay",
        "`replay` of a NinaPro file with one NaN sample",
        lambda w: ["replay", str(w.db1_nan)],
        needs="sample 50",
    )
    add(
        "replay-nan-drop",
        "replay",
        "`replay --nonfinite drop` of that file",
        lambda w: ["replay", str(w.db1_nan), "--nonfinite", "drop", "--speed", "10", "--duration", "1"],
        expect="handled",
        needs="dropped 1 sample",
    )
    add(
        "replay-nan-interpolate",
        "replay",
        "`replay --nonfinite interpolate` of that file",
        lambda w: ["replay", str(w.db1_nan), "--nonfinite", "interpolate", "--speed", "10", "--duration", "1"],
        expect="handled",
        needs="interpolated 1 sample",
    )
    add(
        "replay-killed-session",
        "replay",
        '`replay` of a session left by a killed recorder (was "truncated or corrupted")',
        lambda w: ["replay", str(w.killed), "--speed", "10", "--duration", "1"],
        expect="handled",
        needs="cut short",
    )
    add(
        "replay-session-bad-labels",
        "replay",
        "`replay` of a session with a label outside its label names",
        lambda w: ["replay", str(w.bad_labels)],
        needs="label",
    )
    add(
        "replay-outlets-loopback",
        "security",
        "`replay FILE`: the outlets' TCP data and UDP service ports",
        lambda w: ["replay", str(w.db1), "--duration", "30"],
        expect="works",
        interrupt=("replaying", signal.SIGINT),
        during=_loopback_sockets,
    )
    add(
        "stream-publish-loopback",
        "security",
        "`stream --publish NAME`: the outlet's TCP data and UDP service ports",
        lambda w: ["stream", "--publish", "myostream-reliability-publish", "--duration", "30"],
        expect="works",
        interrupt=("publishing as LSL stream", signal.SIGINT),
        during=_loopback_sockets,
    )

    # -- live window -----------------------------------------------------------------------
    add(
        "live-duration-negative",
        "live",
        "`live --duration -1` (closed at once)",
        lambda w: ["live", "--duration", "-1"],
        needs="--duration",
    )
    add(
        "live-screenshot-read-only",
        "live",
        "`live --screenshot` into a read-only folder (exited 0)",
        lambda w: ["live", "--screenshot", str(w.read_only / "shot.png"), "--duration", "1"],
        needs="screenshot",
    )
    add(
        "live-screenshot-under-file",
        "live",
        "`live --screenshot` under a file (exited 0)",
        lambda w: ["live", "--screenshot", str(w.a_file / "shot.png"), "--duration", "1"],
        needs="is a file",
    )
    add(
        "live-model-missing",
        "live",
        "`live --model missing`",
        lambda w: ["live", "--model", str(w.missing)],
        needs="does not exist",
    )
    add(
        "live-model-file",
        "live",
        "`live --model` a file",
        lambda w: ["live", "--model", str(w.a_file)],
        needs="is a file",
    )
    add(
        "live-model-corrupt",
        "live",
        "`live --model` a checkpoint with damaged weights",
        lambda w: ["live", "--model", str(w.ckpt_corrupt)],
        needs="safetensors",
    )
    add(
        "live-source-missing-file",
        "live",
        "`live --source replay:missing.mat`",
        lambda w: ["live", "--source", f"replay:{w.missing}.mat"],
        needs="does not exist",
    )
    add(
        "live-source-unknown",
        "live",
        "`live --source nosuch`",
        lambda w: ["live", "--source", "nosuch"],
        needs="nosuch",
    )
    add(
        "live-source-lsl-missing",
        "live",
        "`live --source lsl:nosuch` (a stream that never appears)",
        lambda w: ["live", "--source", "lsl:myostream-reliability-nosuch"],
        needs="appeared",
    )
    add(
        "live-torch-device-unknown",
        "live",
        "`live --torch-device tpu`",
        lambda w: ["live", "--torch-device", "tpu"],
        needs="tpu",
    )
    add(
        "live-sigint",
        "live",
        "Ctrl-C (SIGINT) in `live --screenshot` (the window stayed up for minutes)",
        lambda w: ["live", "--screenshot", str(w.root / "sigint.png")],
        expect="works",
        needs="Ctrl-C",
        interrupt=("ranking", signal.SIGINT),
        check=_screenshot_written(lambda w: w.root / "sigint.png"),
    )
    add(
        "live-sigterm",
        "live",
        "SIGTERM to `live --screenshot` (killed without shutdown, no screenshot)",
        lambda w: ["live", "--screenshot", str(w.root / "sigterm.png")],
        expect="works",
        needs="Ctrl-C",
        interrupt=("ranking", signal.SIGTERM),
        check=_screenshot_written(lambda w: w.root / "sigterm.png"),
    )
    add(
        "live-text-encoder-wrong-dim",
        "live",
        "free-text query, checkpoint whose `text_encoder.json` names the wrong size "
        "(hundreds of tracebacks, frozen panels)",
        script=_LIVE_QUERY.format(ckpt="w.ckpt_dim"),
        expect="handled",
        needs="Free-text queries are off",
    )
    add(
        "live-text-encoder-pickle",
        "live",
        "free-text query, `text_encoder.json` naming a folder with a pickled model",
        script=_LIVE_QUERY.format(ckpt="w.ckpt_pickle"),
        expect="handled",
        needs="safetensors",
        check=_pickle_not_loaded,
    )
    add(
        "live-lsl-outage",
        "live",
        'the LSL stream stops while `live --source lsl:NAME` runs (status said "running")',
        script=_LIVE_OUTAGE,
        expect="handled",
        needs="no samples for",
    )
    add(
        "live-lsl-true-gesture",
        "live",
        '`live --source lsl:NAME` on a replay (showed "true gesture: unknown")',
        script=_LIVE_TRUTH,
        expect="works",
    )

    # -- recorder -------------------------------------------------------------------------
    add(
        "record-speed-huge",
        "record",
        "`record --speed 1e9` (was accepted)",
        lambda w: ["record", "--speed", "1e9"],
        needs="speed",
    )
    add("record-speed-zero", "record", "`record --speed 0`", lambda w: ["record", "--speed", "0"], needs="--speed")
    add(
        "record-out-file",
        "record",
        "`record --out` a file (error shown for 40 ms)",
        lambda w: ["record", "--out", str(w.a_file)],
        needs="is a file",
    )
    add(
        "record-out-read-only",
        "record",
        "`record --out` a read-only folder",
        lambda w: ["record", "--out", str(w.read_only / "sessions")],
        needs="not writable",
    )
    add(
        "record-out-read-only-window",
        "record",
        "read-only folder typed into the recorder's form, then Start",
        script=_RECORD_FORM,
        expect="handled",
        needs="not writable",
    )
    add(
        "record-protocol-unknown",
        "record",
        "`record --protocol nosuch`",
        lambda w: ["record", "--protocol", "nosuch"],
        needs="nosuch",
    )
    add(
        "record-protocol-bad-type",
        "record",
        '`record --protocol bad.toml` (repetitions = "two")',
        lambda w: ["record", "--protocol", str(w.bad_protocol)],
        needs="repetitions",
    )
    add(
        "record-source-unknown",
        "record",
        "`record --device nosuch` (old spelling of --source)",
        lambda w: ["record", "--device", "nosuch"],
        needs="nosuch",
    )
    add(
        "record-autostart-no-subject",
        "record",
        "`record --autostart` without --subject",
        lambda w: ["record", "--autostart"],
        needs="--subject",
    )
    add(
        "record-review-missing",
        "record",
        "`record --review missing.h5`",
        lambda w: ["record", "--review", f"{w.missing}.h5"],
        needs="does not exist",
    )
    add(
        "record-review-random",
        "record",
        "`record --review` of random bytes",
        lambda w: ["record", "--review", str(w.random_h5)],
        needs="random.h5",
    )
    add(
        "record-disk-full",
        "record",
        "the disk fills up while recording (status cut off, segfault on exit)",
        lambda w: ["record", "--autostart", "--subject", "D1", "--out", str(w.root / "full")],
        expect="handled",
        needs="no room left",
        interrupt=("no room left", signal.SIGINT),
        file_size_limit=8 * 2**20 + 300_000,
        check=lambda w: _session_readable(w.root / "full"),
    )

    # -- text ------------------------------------------------------------------------------
    add(
        "describe-encode-empty",
        "describe",
        '`describe encode ""` (ranked anyway)',
        lambda w: ["describe", "encode", ""],
        needs="text to rank",
    )
    add(
        "describe-encode-bundled",
        "describe",
        '`describe encode TEXT --model <bundled checkpoint>` (said "run stage 1 first")',
        lambda w: ["describe", "encode", "make a fist", "--model", str(w.bundled)],
        expect="works",
        needs="fist  (fist)",
    )
    add(
        "describe-encode-model-missing",
        "describe",
        "`describe encode TEXT --model missing`",
        lambda w: ["describe", "encode", "fist", "--model", str(w.missing)],
        needs="missing",
    )
    add(
        "describe-encode-pickled",
        "describe",
        "`describe encode --model` a checkpoint whose text model is pickled",
        lambda w: ["describe", "encode", "fist", "--model", str(w.ckpt_pickle)],
        needs="safetensors",
        check=_pickle_not_loaded,
    )
    add(
        "describe-encode-wrong-dim",
        "describe",
        "`describe encode --model` a checkpoint whose text encoder has the wrong size",
        lambda w: ["describe", "encode", "fist", "--model", str(w.ckpt_dim)],
        needs="size mismatch",
    )
    add(
        "describe-encode-top-zero",
        "describe",
        "`describe encode TEXT --top 0`",
        lambda w: ["describe", "encode", "fist", "--top", "0"],
        needs="--top",
    )
    add(
        "describe-unknown-catalog",
        "describe",
        "`describe show nosuch`",
        lambda w: ["describe", "show", "nosuch"],
        needs="nosuch",
    )
    add("describe-unknown-action", "describe", "`describe nosuch`", lambda w: ["describe", "nosuch"], needs="nosuch")
    add(
        "describe-glove-missing",
        "describe",
        "`describe glove missing`",
        lambda w: ["describe", "glove", str(w.missing)],
        needs="missing",
    )

    # -- training ----------------------------------------------------------------------------
    def exp(name: str, data: str = "", extra: str = "") -> Args:
        return lambda w: [
            "train",
            str(w.experiment(name, data, extra)),
            "--out",
            str(w.root / "runs" / name),
            "--quiet",
        ]

    add("train-unknown-config", "train", "`train nosuch`", lambda w: ["train", "nosuch"], needs="nosuch")
    add(
        "train-not-toml",
        "train",
        "`train` of a file that is not TOML",
        lambda w: ["train", str(w.not_toml)],
        needs="TOML",
    )
    add(
        "train-seconds-text",
        "train",
        'experiment with `seconds = "twenty"`',
        exp("seconds", 'seconds = "twenty"'),
        needs="seconds",
    )
    add(
        "train-subjects-names",
        "train",
        'NinaPro experiment with `subjects = ["S1"]`',
        lambda w: [
            "train",
            str(
                w._text(
                    "subjects.toml",
                    'name = "subjects"\nmodel = "myosem-ninapro-db1"\n[data]\n'
                    f'source = "ninapro"\nfolder = "{w.root}"\nsubjects = ["S1"]\n',
                )
            ),
        ],
        needs="subjects",
    )
    add(
        "train-window-text",
        "train",
        'experiment with `window_ms = "200"`',
        exp("window", 'window_ms = "200"'),
        needs="window_ms",
    )
    add("train-users-negative", "train", "experiment with `users = -1`", exp("users", "users = -1"), needs="users")
    add(
        "train-stage2-epochs-text",
        "train",
        'experiment with `[stage2] epochs = "ten"`',
        exp("epochs", extra='[stage2]\nepochs = "ten"'),
        needs="epochs",
    )
    add(
        "train-overrides-type",
        "train",
        'experiment with `[model_overrides] n_channels = "8"`',
        exp("overrides", extra='[model_overrides]\nn_channels = "8"'),
        needs="n_channels",
    )
    add(
        "train-unknown-key",
        "train",
        "experiment with an unknown [data] key",
        exp("unknown", "colour = 1"),
        needs="colour",
    )
    add(
        "train-fold-missing",
        "train",
        "experiment with `[protocol] fold = 5` of 2",
        exp("fold", extra='[protocol]\nname = "cross-user"\nfolds = 2\nfold = 5'),
        needs="fold",
    )
    add(
        "train-filter-unknown",
        "train",
        'experiment with `filter = "nosuch"`',
        exp("filter", 'filter = "nosuch"'),
        needs="nosuch",
    )
    add(
        "train-nonfinite-unknown",
        "train",
        'experiment with `nonfinite = "maybe"`',
        exp("nonfinite", 'nonfinite = "maybe"'),
        needs="nonfinite",
    )
    add(
        "train-huge-window",
        "train",
        "model window longer than every recording (left an empty run folder)",
        exp("huge", extra="[model_overrides]\nwindow_ms = 100000"),
        needs="longer than every recording",
        check=_no_folder(lambda w: w.root / "runs" / "huge"),
    )
    add(
        "train-out-file",
        "train",
        "`train --out` a file",
        lambda w: ["train", "myosem-simulated", "--out", str(w.a_file)],
        needs="is a file",
    )
    add(
        "train-out-read-only",
        "train",
        "`train --out` in a read-only folder",
        lambda w: ["train", "myosem-simulated", "--out", str(w.read_only / "run")],
        needs="not writable",
    )
    add(
        "train-protocol-unknown",
        "train",
        "`train --protocol nosuch`",
        lambda w: ["train", "myosem-simulated", "--protocol", "nosuch", "--out", str(w.root / "runs" / "p")],
        needs="nosuch",
    )
    add(
        "train-threads-zero",
        "train",
        "`train --threads 0`",
        lambda w: ["train", "myosem-simulated", "--threads", "0"],
        needs="--threads",
    )
    add(
        "train-data-missing",
        "train",
        "`train --data missing-folder`",
        lambda w: ["train", "myosem-simulated", "--data", str(w.missing)],
        needs="does not exist",
    )
    add(
        "train-variant-unknown",
        "train",
        "`train --model nosuch`",
        lambda w: ["train", "myosem-simulated", "--model", "nosuch"],
        needs="nosuch",
    )
    add(
        "train-torch-device-unknown",
        "train",
        "`train --torch-device tpu`",
        lambda w: [
            "train",
            str(w.experiment("device")),
            "--torch-device",
            "tpu",
            "--out",
            str(w.root / "runs" / "dev"),
            "--quiet",
        ],
        needs="tpu",
    )

    # -- evaluation and results ----------------------------------------------------------------
    add("eval-missing", "eval", "`eval missing`", lambda w: ["eval", str(w.missing)], needs="does not exist")
    add("eval-file", "eval", "`eval` of a file", lambda w: ["eval", str(w.a_file)], needs="is a file")
    add(
        "eval-corrupt",
        "eval",
        "`eval` of a checkpoint with damaged weights",
        lambda w: ["eval", str(w.ckpt_corrupt)],
        needs="safetensors",
    )
    add(
        "eval-out-file",
        "eval",
        "`eval --out` a file",
        lambda w: ["eval", str(w.bundled), "--out", str(w.a_file)],
        needs="is a file",
    )
    add(
        "eval-protocol-unknown",
        "eval",
        "`eval --protocol nosuch`",
        lambda w: ["eval", str(w.bundled), "--protocol", "nosuch", "--out", str(w.root / "ev")],
        needs="nosuch",
    )
    add(
        "eval-live-seconds-negative",
        "eval",
        "`eval --live --seconds -1`",
        lambda w: ["eval", str(w.bundled), "--live", "--seconds", "-1"],
        needs="--seconds",
    )
    add("results-unknown", "results", "`results nosuch`", lambda w: ["results", "nosuch"], needs="nosuch")
    add(
        "results-report-only-empty",
        "results",
        "`results --report-only` without results.json",
        lambda w: ["results", "myosem-simulated", "--report-only", "--out", str(w.empty_folder)],
        needs="results.json",
    )
    add(
        "results-jobs-zero",
        "results",
        "`results --jobs 0`",
        lambda w: ["results", "myosem-simulated", "--jobs", "0"],
        needs="--jobs",
    )

    # -- adaptation ------------------------------------------------------------------------------
    add("adapt-nothing", "adapt", "`adapt` without --model/--sessions", lambda w: ["adapt"], needs="--model")
    add(
        "adapt-model-missing",
        "adapt",
        "`adapt --model missing`",
        lambda w: ["adapt", "--model", str(w.missing), "--sessions", str(w.session)],
        needs="does not exist",
    )
    add(
        "adapt-sessions-missing",
        "adapt",
        "`adapt --sessions missing`",
        lambda w: ["adapt", "--model", str(w.bundled), "--sessions", str(w.missing)],
        needs="does not exist",
    )
    add(
        "adapt-sessions-empty",
        "adapt",
        "`adapt --sessions` an empty folder",
        lambda w: ["adapt", "--model", str(w.bundled), "--sessions", str(w.empty_folder)],
        needs="no session",
    )
    add(
        "adapt-one-repetition",
        "adapt",
        "`adapt --sessions` a session with one repetition",
        lambda w: ["adapt", "--model", str(w.bundled), "--sessions", str(w.killed), "--out", str(w.root / "adapted")],
        needs="1 repetition",
    )
    add("adapt-epochs-zero", "adapt", "`adapt --epochs 0`", lambda w: ["adapt", "--epochs", "0"], needs="--epochs")
    add(
        "adapt-out-read-only",
        "adapt",
        "`adapt --out` in a read-only folder",
        lambda w: ["adapt", "--model", str(w.bundled), "--sessions", str(w.session), "--out", str(w.read_only / "a")],
        needs="not writable",
    )

    # -- the command line itself ----------------------------------------------------------------
    add("cli-no-command", "cli", "`myostream` without a command", lambda w: [], needs="COMMAND")
    add("cli-unknown-command", "cli", "`myostream nosuch`", lambda w: ["nosuch"], needs="nosuch")
    add("bench-unknown", "cli", "`bench nosuch`", lambda w: ["bench", "nosuch"], needs="nosuch")
    add("report-unknown", "cli", "`report nosuch`", lambda w: ["report", "nosuch"], needs="nosuch")

    # -- the library -------------------------------------------------------------------------------
    lib = "library"
    add(
        "recording-nan",
        lib,
        "`Recording(...)` with one NaN sample (spread through the filter, NaN windows)",
        script=_RECORDING.format(change="emg[500, 2] = np.nan"),
        needs="sample 500",
    )
    add(
        "recording-inf",
        lib,
        "`Recording(...)` with an infinite sample",
        script=_RECORDING.format(change="emg[7, 0] = np.inf"),
        needs="sample 7",
    )
    add(
        "recording-label-outside",
        lib,
        "`Recording(...)` with a label outside `label_names` (bare IndexError)",
        script=_RECORDING.format(change="labels[30] = 5"),
        needs="label 5 at sample 30",
    )
    add(
        "recording-nan-interpolate",
        lib,
        '`Recording(..., nonfinite="interpolate")` with a NaN sample',
        script=_RECORDING.format(change="emg[500, 2] = np.nan; kw['nonfinite'] = 'interpolate'"),
        expect="handled",
        needs="interpolated",
    )
    add(
        "windows-nan-lazy",
        lib,
        "`extract_windows` over samples that turned NaN after reading (silently NaN windows)",
        script=_WINDOWS_NAN_LAZY,
        needs="sample 40",
    )
    add(
        "input-stats-nan",
        lib,
        "`fit_input_stats` of windows holding NaN (silently NaN statistics)",
        script=_INPUT_STATS_NAN,
        needs="NaN",
    )
    add("windows-nan", lib, "the samples of windows over a recording holding NaN", script=_WINDOWS_NAN, needs="NaN")
    add(
        "read-killed-session",
        lib,
        "`read_recording()` of a session left by a killed recorder",
        script="from myostream.data.readers import read_recording\nprint(read_recording(w.killed).n_samples)",
        expect="handled",
        needs="cut short",
    )
    add(
        "read-ninapro-db1-as-db2",
        lib,
        '`read_ninapro(DB1 file, database="db2")`',
        script="from myostream.data.ninapro import read_ninapro\nread_ninapro(w.db1, database='db2')",
        needs="DB2",
    )
    add(
        "text-encoder-pickle",
        lib,
        "`TextEncoder.from_pretrained(folder with pytorch_model.bin)`",
        script="from myostream.text.encoder import TextEncoder\nTextEncoder.from_pretrained(w.pickled_text_model)",
        needs="safetensors",
        check=_pickle_not_loaded,
    )
    add(
        "lsl-outlet-name-not-utf8",
        lib,
        "`LSLOutlet` named with bytes that are not UTF-8",
        script="from myostream.stream.lsl import LSLOutlet\nfrom myostream.records import StreamInfo\n"
        "import os\nLSLOutlet(StreamInfo('x', 100.0, ('a',)), name=os.fsdecode(b'x\\xff'))",
        needs="UTF-8",
    )
    add(
        "session-writer-read-only",
        lib,
        "`SessionWriter` into a read-only folder",
        script="from myostream_reports.reliability import _write_session\n_write_session(w.read_only / 's.h5')",
        needs="not writable",
    )
    add(
        "session-writer-no-room",
        lib,
        "`SessionWriter` when the disk has less room than its reserve",
        script=_NO_ROOM,
        needs="no room left",
    )
    add(
        "model-config-bad-type",
        lib,
        '`load_config` of a model config with `n_channels = "8"`',
        script=_MODEL_CONFIG,
        needs="n_channels",
    )
    return c


def _session_readable(folder: Path) -> str | None:
    from myostream.data.session import read_session
    from myostream.errors import MyostreamError

    files = sorted(folder.glob("*.h5"))
    if not files:
        return "no session file was written"
    try:
        rec = read_session(files[0])
    except MyostreamError as exc:
        return f"the session is not readable: {exc}"
    return None if rec.n_samples > 0 else "the session holds no samples"


# Scripts (``w`` is the Workspace; a MyostreamError is printed as one sentence, exit code 2).

_RECORDING = """
import numpy as np
from myostream.records import Recording
emg = np.random.default_rng(0).standard_normal((1000, 4)).astype(np.float32)
labels = np.zeros(1000, np.int16)
kw = {{}}
{change}
Recording(emg=emg, rate=1000.0, labels=labels, label_names=("rest", "fist"), channel_names=("a", "b", "c", "d"),
          subject="s", source="case.mat", **kw)
"""

_WINDOWS_NAN_LAZY = """
import numpy as np
from myostream.records import Recording
from myostream.data.windows import extract_windows
emg = np.random.default_rng(0).standard_normal((1000, 4)).astype(np.float32)
rec = Recording(emg=emg, rate=1000.0, labels=np.zeros(1000, np.int16), label_names=("rest",),
                channel_names=("a", "b", "c", "d"), subject="s", source="lazy.h5")
rec.emg[40, 1] = np.nan  # what a lazily read file can hold: checked when windows read it
extract_windows([rec], 200, 50).data()
"""

_INPUT_STATS_NAN = """
import torch
from myostream.model.checkpoint import load_checkpoint
model = load_checkpoint(w.bundled)
x = torch.randn(8, model.config.window_samples, model.config.n_channels)
x[3, 10, 2] = float("nan")
model.fit_input_stats(x)
"""

_WINDOWS_NAN = """
import numpy as np
from myostream.records import Recording
from myostream.data.windows import extract_windows
rec = Recording(emg=np.ones((1000, 2), np.float32), rate=1000.0, labels=np.zeros(1000, np.int16), label_names=("rest",),
                channel_names=("a", "b"), subject="s", source="n.h5")
rec.emg[5, 0] = np.nan
extract_windows([rec], 200, 50).data()
"""

_NO_ROOM = """
import shutil
import numpy as np
from myostream.data.session import SessionWriter
path = w.root / "no-room.h5"
writer = SessionWriter(path, rate=100.0, channel_names=["a"], label_names=["rest"], subject="x", flush_s=0.0,
                       reserve_bytes=shutil.disk_usage(w.root).free + 2**30)
writer.append(np.zeros((10, 1), np.float32), np.arange(10.0) + 1, np.zeros(10), np.zeros(10))
"""

_MODEL_CONFIG = """
from myostream.model.config import load_config
path = w.root / "bad-model.toml"
path.write_text('name = "bad"\\n[model]\\nn_channels = "8"\\nrate = 1000\\nwindow_ms = 200\\npatch = 20\\n')
load_config(path)
"""

_QT = """
import time
from PyQt6 import QtWidgets
app = QtWidgets.QApplication([])

def pump(seconds, until=lambda: False):
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.01)
"""

_LIVE_QUERY = (
    _QT
    + """
from myostream.apps.live import LiveWindow
window = LiveWindow(model={ckpt}, device="cpu")
window.show()
window.start(block=True)
window.add_text_query("make a fist")
pump(60, lambda: window.banner.isVisible())
frames, rankings = window.frames, window.rankings.updates
window.add_text_query("open the hand")  # a second query fails at once, with the same sentence
pump(3)
alive = window.frames > frames and window.rankings.updates > rankings
stuck = window.text.status.text()
print(window.banner.text(), file=sys.stderr)
window.close()
assert alive, "the window stopped repainting"
assert not stuck, f"the text panel still says {{stuck!r}}"
"""
)

_LIVE_OUTAGE = (
    _QT
    + """
import threading, uuid
from myostream.apps.live import LiveWindow
from myostream.stream.lsl import publish
from myostream.stream.simulated import SimulatedArmband
name = "myostream-reliability-" + uuid.uuid4().hex[:8]
stop = threading.Event()
publisher = threading.Thread(target=publish, args=(SimulatedArmband(), name), kwargs={"stop": stop})
publisher.start()
window = LiveWindow(source="lsl:" + name, model=w.bundled, device="cpu")
window.show()
window.start(block=True)
pump(60, lambda: window.rankings.updates > 5)
stop.set()
publisher.join()
state = window.status_labels["state"]
pump(30, lambda: "no samples for" in state.text())
print(state.text() + " · " + window.status_labels["rate"].text(), file=sys.stderr)
window.close()
"""
)

_LIVE_TRUTH = (
    _QT
    + """
import threading, uuid
from myostream.apps.live import LiveWindow
from myostream.stream.lsl import publish
from myostream.stream.simulated import SimulatedArmband
name = "myostream-reliability-" + uuid.uuid4().hex[:8]
stop = threading.Event()
publisher = threading.Thread(target=publish, args=(SimulatedArmband(), name), kwargs={"stop": stop})
publisher.start()
window = LiveWindow(source="lsl:" + name, model=w.bundled, device="cpu")
window.show()
window.start(block=True)
pump(60, lambda: window.last_ranking is not None and window.last_ranking.true_class is not None)
pump(10, lambda: "unknown" not in window.rankings.truth.text())  # the list redraws 10 times a second
truth = window.rankings.truth.text()
window.close()
stop.set()
publisher.join()
print(truth, file=sys.stderr)
assert "unknown" not in truth, truth
"""
)

_RECORD_FORM = (
    _QT
    + """
from myostream.apps.recorder import RecorderWindow, recording_source
from myostream.calibrate import load_protocol
protocol = load_protocol("quick")
window = RecorderWindow(recording_source("simulated", [protocol]), protocol, subject="F1", out_dir=w.read_only / "sessions")
window.show()
pump(60, lambda: window.start_button.isEnabled())
window.start_recording()
pump(1)  # 25 status redraws
shown = window.banner.isVisible() and window.banner.text()
window.close()
assert shown, "the error did not stay visible"
assert window.run is None, "the recording started without a file"
"""
)


# ----------------------------------------------------------------------------- running


def _script(case: Case, workspace: Workspace) -> str:
    """The case's Python code with the workspace as ``w``; a MyostreamError becomes one sentence, exit code 2."""
    head = [
        "import sys",
        f"sys.path.insert(0, {str(REPO)!r})",
        "from pathlib import Path",
        "from myostream.errors import MyostreamError",
        "from myostream_reports.reliability import Workspace",
        "w = Workspace.__new__(Workspace)",
        f"w.__dict__.update({{k: Path(v) for k, v in {_paths(workspace)!r}.items()}})",
        "try:",
    ]
    tail = ["except MyostreamError as exc:", '    print(f"MyostreamError: {exc}", file=sys.stderr)', "    sys.exit(2)"]
    return "\n".join([*head, textwrap.indent(textwrap.dedent(case.script or "pass"), "    "), *tail]) + "\n"


def _paths(workspace: Workspace) -> dict[str, str]:
    return {k: str(v) for k, v in vars(workspace).items() if isinstance(v, Path)}


def _message(stderr: str, stdout: str, needs: str) -> str:
    """The sentence of the case: the line naming what it must name, else the last thing said on stderr."""
    said = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith(_NOISE)]
    printed = [line.strip() for line in stdout.splitlines() if line.strip()]
    named = [line for line in said + printed if needs and needs.lower() in line.lower()]
    if named:
        return named[-1]
    lines = said or printed
    return lines[-1] if lines else ""


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_case(case: Case, workspace: Workspace, cli: Sequence[str] | None = None) -> Outcome:
    """Run one case in a subprocess and judge what it did."""
    cli = list(cli or [sys.executable, "-m", "myostream.cli"])
    if case.script is not None:
        command = [sys.executable, "-c", _script(case, workspace)]
    else:
        assert case.args is not None
        command = [*cli, *case.args(workspace)]
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    start = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=workspace.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        preexec_fn=_limit_file_size(case.file_size_limit) if case.file_size_limit else None,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda s=s, b=b: b.extend(iter(s.readline, "")), daemon=True)
        for s, b in ((proc.stdout, out), (proc.stderr, err))
    ]
    for r in readers:
        r.start()
    problem: str | None = None
    seen = ""
    try:
        if case.interrupt is not None:
            text, signum = case.interrupt
            while proc.poll() is None and text not in "".join(err) and time.monotonic() - start < case.timeout:
                time.sleep(0.1)
            if proc.poll() is None and text in "".join(err):
                if case.during is not None:
                    time.sleep(1.0)  # outlets exist once the first samples went out
                    problem, seen = case.during(proc, workspace)
                proc.send_signal(signum)
            elif proc.poll() is None:
                problem = f"never printed {text!r}"
        proc.wait(timeout=max(1.0, case.timeout - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        problem = problem or f"still running after {case.timeout:g} s (a frozen command)"
    for r in readers:
        r.join(timeout=5)
    seconds = time.monotonic() - start
    stderr, stdout = "".join(err), "".join(out)
    code: int | str = proc.returncode
    message = seen or _message(stderr, stdout, case.needs)
    problem = problem or _judge(case, proc.returncode, stderr, message)
    if problem is None and case.check is not None:
        problem = case.check(workspace)
    if isinstance(code, int) and code < 0:
        code = f"signal {signal.Signals(-code).name}"
    return Outcome(case, code, message, problem, seconds, stderr)


def _judge(case: Case, code: int, stderr: str, message: str) -> str | None:
    if "Traceback (most recent call last)" in stderr:
        return "printed a traceback"
    if code < 0:
        return f"crashed ({signal.Signals(-code).name})"
    if case.expect == "refused":
        if code == 0:
            return (
                "accepted bad input silently (exit code 0)" if not message else "went on with bad input (exit code 0)"
            )
        if code != 2:
            return f"exit code {code}, not 2"
    elif code != 0:
        return f"exit code {code}, not 0"
    if case.expect in ("refused", "handled") and not message:
        return "said nothing"
    if case.needs and case.needs.lower() not in message.lower():
        return f"the sentence does not say {case.needs!r}"
    return None


# ----------------------------------------------------------------------------- report


def _clean(text: str, workspace: Workspace) -> str:
    text = text.replace(str(workspace.root), "<tmp>").replace(str(REPO), "<repo>")
    text = re.sub(r"\d{8}T\d{6}", "<time>", text)
    text = re.sub(r"</?(?:b|i|span|br)(?:\s[^>]*)?>", "", text)  # a window's rich text, as the user reads it
    return text.replace("|", "\\|")


def markdown(outcomes: Sequence[Outcome], workspace: Workspace, command: str, minutes: float) -> str:
    failed = [o for o in outcomes if not o.passed]
    lines = [
        "# Reliability: every bad input and what myostream says",
        "",
        f"Generated by `{command}` on {_dt.datetime.now():%Y-%m-%d %H:%M} in {minutes:.1f} min "
        f"({platform.system()} {platform.machine()}, Python {platform.python_version()}).",
        "",
        f"**{len(outcomes)} cases, {len(outcomes) - len(failed)} pass, {len(failed)} fail.** "
        f"Tracebacks: {sum('Traceback (most recent' in o.stderr for o in outcomes)}. "
        f"Silent cases (bad input, exit code 0, nothing said): "
        f"{sum(o.problem is not None and 'silently' in o.problem for o in outcomes)}.",
        "",
        "Each case runs as its own process: the `myostream` command, or a short Python script where the input goes",
        "through the library or a window (offscreen). Expectations: **refused** = one sentence, exit code 2;",
        "**handled** = the program goes on and says what happened (stderr or the window's banner), exit code 0;",
        "**works** = a former defect that now simply works, exit code 0. A case fails on a traceback, a crash, a",
        "silent exit 0 for bad input, another exit code, a sentence that does not name the thing, or a failed",
        "after-check (a folder left behind, a screenshot not written, sockets beyond loopback, a pickle loaded).",
        "Inputs are written fresh into a temporary folder (`<tmp>`) in their real formats.",
        "",
        "| # | area | input | expect | exit | message | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, o in enumerate(outcomes, 1):
        verdict = "pass" if o.passed else f"**FAIL**: {o.problem}"
        lines.append(
            f"| {i} | {o.case.area} | {_clean(o.case.what, workspace)} | {o.case.expect} | {o.code} | "
            f"{_clean(o.message, workspace)} | {_clean(verdict, workspace)} |"
        )
    return "\n".join(lines) + "\n"


def run_cases(
    selected: Sequence[Case],
    cli: Sequence[str] | None = None,
    say: Callable[[str], None] = print,
    root: Path | None = None,
) -> tuple[list[Outcome], Workspace]:
    """Build a workspace and run ``selected`` in it (the workspace folder is kept when ``root`` is given)."""
    base = Path(root) if root else Path(tempfile.mkdtemp(prefix="myostream-reliability-"))
    base.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(base)
    outcomes = []
    try:
        for case in selected:
            outcome = run_case(case, workspace, cli)
            say(
                f"{'pass' if outcome.passed else 'FAIL'} {case.id} ({outcome.seconds:.1f} s): "
                f"{outcome.code} {_clean(outcome.message, workspace)[:160]}"
                + ("" if outcome.passed else f" -- {outcome.problem}")
            )
            outcomes.append(outcome)
    finally:
        if workspace.read_only.is_relative_to(base):
            workspace.read_only.chmod(0o755)
        if root is None:
            shutil.rmtree(base, ignore_errors=True)
    return outcomes, workspace


def reliability_command(out: str | Path, only: Sequence[str] | None = None) -> int:
    """Run every case and write the table to ``out``; with ``only``, run the cases whose id
    contains one of them and print them (no table)."""
    from myostream.errors import MyostreamError
    from myostream.paths import output_file

    every = cases()
    selected = [c for c in every if not only or any(o in c.id for o in only)]
    if not selected:
        raise MyostreamError(
            f"No case id contains {', '.join(only or ())}; ids look like {every[0].id}, {every[-1].id}."
        )
    table = None if only else output_file(out, "the reliability report")
    start = time.monotonic()
    outcomes, workspace = run_cases(selected)
    failed = [o for o in outcomes if not o.passed]
    if table is not None:
        command = "myostream report reliability" + ("" if Path(out) == DEFAULT_OUT else f" --out {out}")
        table.write_text(markdown(outcomes, workspace, command, (time.monotonic() - start) / 60))
        print(f"wrote {table}: {len(outcomes)} cases, {len(failed)} failing")
    else:
        print(f"{len(outcomes)} cases, {len(failed)} failing")
    return 1 if failed else 0
