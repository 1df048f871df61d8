"""BrainFlow boards as a :class:`~myostream.records.Source`.

Any board BrainFlow supports works: the synthetic board and the playback board (a
file written by ``DataFilter.write_file``, replayed in real time) run anywhere; EMG
armbands (gForce, ANT Neuro, Callibri, OpenBCI with EMG electrodes) need their
hardware and, for some, a particular OS. BrainFlow stamps samples in Unix seconds;
they are mapped to the LSL clock with the offset between the two clocks taken at open.
"""

from __future__ import annotations

import difflib
import logging
import platform
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import Chunk, StreamInfo, default_channel_names
from myostream.stream.devices import DeviceProfile
from myostream.stream.gaps import GapCounter
from myostream.stream.lslconfig import pylsl_module

log = logging.getLogger(__name__)

#: BrainFlow ships the gForce driver (a Windows DLL from OYMotion) for Windows only.
GFORCE_BOARDS = ("GFORCE_PRO_BOARD", "GFORCE_DUAL_BOARD")
#: Boards that stream another board's data; their channel layout is ``master_board``'s.
REPLAY_BOARDS = ("PLAYBACK_FILE_BOARD", "STREAMING_BOARD")

_ALL_NAMES_HINT = 'all names: python -c "from brainflow.board_shim import BoardIds; print([b.name for b in BoardIds])"'


_silenced = False


def _board_shim() -> ModuleType:
    """``brainflow.board_shim``, imported without its pkg_resources warning; its logger is off by default."""
    global _silenced
    try:
        with warnings.catch_warnings():
            # brainflow's "pkg_resources is deprecated", raised when its library first loads
            warnings.simplefilter("ignore", UserWarning)
            from brainflow import board_shim

            if not _silenced:
                board_shim.BoardShim.disable_board_logger()
                _silenced = True
    except ModuleNotFoundError as exc:
        if exc.name == "pkg_resources":
            raise MyostreamError(
                "BrainFlow needs pkg_resources, which setuptools>=82 no longer ships; install 'setuptools<82'."
            ) from None
        from myostream.extras import missing_extra

        raise MyostreamError(missing_extra(exc) or f"BrainFlow could not be imported: {exc}.") from None
    return board_shim


def board_id(board: str | int | Any) -> int:
    """A BoardIds name (``"SYNTHETIC_BOARD"``, also without ``_BOARD``), number, or member → its id."""
    ids = _board_shim().BoardIds
    if isinstance(board, ids):
        return int(board.value)
    if isinstance(board, str) and board.strip().lstrip("-").isdigit():
        board = int(board)
    if isinstance(board, int) and not isinstance(board, bool):
        if board in {b.value for b in ids}:
            return board
        raise MyostreamError(f"Unknown BrainFlow board id {board}; give a BoardIds name or number ({_ALL_NAMES_HINT}).")
    if isinstance(board, str):
        name = board.strip().upper().replace("-", "_")
        for candidate in (name, f"{name}_BOARD"):
            if candidate in ids.__members__:
                return int(ids[candidate].value)
        close = difflib.get_close_matches(name, list(ids.__members__), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise MyostreamError(
            f"Unknown BrainFlow board {board!r}{hint}; give a BoardIds name such as SYNTHETIC_BOARD or CYTON_BOARD, "
            f"or its number ({_ALL_NAMES_HINT})."
        )
    raise MyostreamError(f"BrainFlow board must be a BoardIds name, number or member, not {type(board).__name__}.")


def board_name(board_id_: int) -> str:
    return _board_shim().BoardIds(board_id_).name


def input_params(params: dict[str, Any] | Any | None) -> Any:
    """A ``BrainFlowInputParams`` from a dict of its fields (``master_board`` may be a board name)."""
    shim = _board_shim()
    if isinstance(params, shim.BrainFlowInputParams):
        return params
    out = shim.BrainFlowInputParams()
    fields = vars(out)
    for key, value in (params or {}).items():
        if key not in fields:
            raise MyostreamError(f"Unknown BrainFlow parameter {key!r}; use one of {', '.join(sorted(fields))}.")
        if key == "master_board":
            value = board_id(value)
        elif isinstance(fields[key], str):
            value = str(value)
        setattr(out, key, value)
    return out


class BrainFlowSource:
    """A BrainFlow board streaming its EMG rows.

    ``board``: a BoardIds name, number or member. ``params``: BrainFlowInputParams or a
    dict of its fields (``serial_port``, ``mac_address``, ``ip_address``, ``file``,
    ``master_board``, ...). ``channels``: rows of the board's data array to stream;
    by default the board's ``emg_channels`` (else its ``eeg_channels``: EMG electrodes
    on an EEG amplifier). ``profile``: a device profile supplying names, unit, and the
    channel count to check against. ``log_board`` turns BrainFlow's own (noisy) log back on.
    """

    def __init__(
        self,
        board: str | int | Any,
        params: dict[str, Any] | Any | None = None,
        channels: list[int] | tuple[int, ...] | None = None,
        profile: DeviceProfile | None = None,
        log_board: bool = False,
    ) -> None:
        shim = _board_shim()
        if log_board:
            shim.BoardShim.enable_board_logger()
        self.board_id = board_id(board)
        self.board_name = board_name(self.board_id)
        if self.board_name in GFORCE_BOARDS and platform.system() != "Windows":
            raise MyostreamError(
                f"{self.board_name}: the gForce driver is only shipped by BrainFlow for Windows; on {platform.system()} "
                "stream the armband through an LSL bridge (`myostream stream --lsl NAME`) or record on Windows."
            )
        self.params = input_params(params)
        self.note = ""
        descr = self._description(shim)
        self.rows = self._pick_rows(descr, channels)
        self._timestamp_row = int(descr["timestamp_channel"])
        rate = float(descr["sampling_rate"])
        names = default_channel_names(len(self.rows))
        unit = "uV"
        if profile is not None:
            if profile.n_channels != len(self.rows):
                raise MyostreamError(
                    f"Device profile {profile.name!r} declares {profile.n_channels} channels but BrainFlow board "
                    f"{self.board_name} streams {len(self.rows)} ({self.rows}); make the profile's channels agree or pick rows with [brainflow] channels."
                )
            if profile.rate != rate:
                log.warning(
                    "profile %r says %g Hz but BrainFlow reports %g Hz for %s; using %g Hz.",
                    profile.name,
                    profile.rate,
                    rate,
                    self.board_name,
                    rate,
                )
            names, unit = profile.channel_names, profile.unit
        where = self.params.serial_port or self.params.mac_address or self.params.ip_address or self.params.file
        self._info = StreamInfo(
            name=profile.name if profile is not None else self.board_name,
            rate=rate,
            channel_names=tuple(names),
            unit=unit,
            source_id=f"brainflow-{self.board_name}" + (f"-{where}" if where else ""),
        )
        self._board: Any = None
        self._offset = 0.0
        self._gaps = GapCounter(rate)
        self._warned_nonfinite = False

    @classmethod
    def from_profile(cls, profile: DeviceProfile, **overrides: Any) -> BrainFlowSource:
        """The board a profile's ``[brainflow]`` table names (``board``, ``params``, optional ``channels``)."""
        opts = profile.options.get("brainflow", {})
        if "board" not in opts:
            raise MyostreamError(
                f'Device profile {profile.name!r} lacks `board` in its [brainflow] table; add e.g. board = "CYTON_BOARD".'
            )
        params = {**opts.get("params", {}), **(overrides.pop("params", None) or {})}
        kw = {"board": opts["board"], "params": params, "channels": opts.get("channels"), "profile": profile}
        return cls(**{**kw, **overrides})

    def _description(self, shim: ModuleType) -> dict[str, Any]:
        described = self.board_id
        if self.board_name in REPLAY_BOARDS:
            if self.params.master_board < -1 or self.params.master_board == self.board_id:
                raise MyostreamError(
                    f"{self.board_name} needs params master_board (the board that recorded the data, e.g. SYNTHETIC_BOARD)"
                    + (" and file" if self.board_name == "PLAYBACK_FILE_BOARD" else "")
                    + "."
                )
            if self.board_name == "PLAYBACK_FILE_BOARD" and not Path(self.params.file).is_file():
                raise MyostreamError(
                    f"BrainFlow playback file {self.params.file!r} does not exist; give params file=PATH written by DataFilter.write_file."
                )
            described = self.params.master_board
        return shim.BoardShim.get_board_descr(described)

    def _pick_rows(self, descr: dict[str, Any], channels: list[int] | tuple[int, ...] | None) -> tuple[int, ...]:
        if channels is not None:
            rows = tuple(int(c) for c in channels)
            bad = [r for r in rows if not 0 <= r < descr["num_rows"] or r == descr["timestamp_channel"]]
            if not rows or bad:
                raise MyostreamError(
                    f"BrainFlow board {self.board_name}: channel rows {list(rows)} are not data rows of its "
                    f"{descr['num_rows']}-row array (row {descr['timestamp_channel']} holds timestamps); pick from its emg/eeg channels."
                )
            return rows
        if descr.get("emg_channels"):
            return tuple(descr["emg_channels"])
        if descr.get("eeg_channels"):
            self.note = f"{self.board_name} lists no EMG channels; streaming its EEG channels (EMG electrodes on an EEG amplifier)."
            log.info(self.note)
            return tuple(descr["eeg_channels"])
        raise MyostreamError(
            f"BrainFlow board {self.board_name} has no EMG or EEG channels; pass channels=[row, ...] to choose rows."
        )

    @property
    def info(self) -> StreamInfo:
        return self._info

    def open(self) -> None:
        if self._board is not None:
            return
        shim = _board_shim()
        board = shim.BoardShim(self.board_id, self.params)
        self._board = board
        try:
            board.prepare_session()
            # A minute of samples in BrainFlow's own ring buffer covers any stall of the reader.
            board.start_stream(max(1000, int(self.info.rate * 60)))
        except shim.BrainFlowError as exc:
            self.close()
            where = {k: v for k, v in vars(self.params).items() if v not in ("", 0, -100)}
            raise MyostreamError(
                f"Could not start BrainFlow board {self.board_name} with {where or 'default params'} ({exc}); "
                "check that the device is on, paired or plugged in, and that its port/address is right."
            ) from None
        self._offset = pylsl_module().local_clock() - time.time()

    def read(self, timeout: float = 0.0) -> Chunk:
        board = self._board
        if board is None:
            raise MyostreamError(f"BrainFlow board {self.board_name} is not open; call open() first.")
        if timeout > 0 and board.get_board_data_count() == 0:
            deadline = time.monotonic() + timeout
            poll = min(0.005, 0.5 / self.info.rate)
            while board.get_board_data_count() == 0 and time.monotonic() < deadline:
                time.sleep(poll)
        raw = board.get_board_data()  # every sample since the last call, removed from BrainFlow's buffer
        data = np.ascontiguousarray(raw[list(self.rows)].T, dtype=np.float32)
        ts = raw[self._timestamp_row] + self._offset
        finite = np.isfinite(data).all(axis=1)
        if not finite.all():
            if not self._warned_nonfinite:
                log.warning(
                    "BrainFlow board %s sent NaN/infinite samples; they are dropped and counted as lost.",
                    self.board_name,
                )
                self._warned_nonfinite = True
            data, ts = data[finite], ts[finite]
        return Chunk(data, ts, lost=self._gaps.count(ts))

    def close(self) -> None:
        board, self._board = self._board, None
        if board is None:
            return
        error = _board_shim().BrainFlowError
        try:
            board.stop_stream()
        except error:
            pass  # never started, or already stopped by the device going away
        try:
            if board.is_prepared():
                board.release_session()
        except error:
            pass
