"""Real BrainFlow boards: the synthetic board and the playback board replaying a written file."""

from __future__ import annotations

import platform
import time
import warnings

import numpy as np
import pytest

from myostream.errors import MyostreamError
from myostream.records import Chunk, opened
from myostream.stream.brainflow import BrainFlowSource, board_id
from myostream.stream.devices import DeviceProfile, load_profile
from myostream.stream.lslconfig import pylsl_module

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # brainflow's pkg_resources deprecation notice
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter


def _read_for(src: BrainFlowSource, n: int, max_s: float = 10.0) -> Chunk:
    """Read until at least n samples arrived (giving up after max_s seconds)."""
    chunks = []
    deadline = time.monotonic() + max_s
    while sum(len(c) for c in chunks) < n and time.monotonic() < deadline:
        chunks.append(src.read(timeout=0.1))
    return Chunk(
        np.concatenate([c.data for c in chunks]),
        np.concatenate([c.timestamps for c in chunks]),
        lost=sum(c.lost for c in chunks),
    )


def _write_board_file(path, data: np.ndarray) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        DataFilter.disable_data_logger()
        DataFilter.write_file(data, str(path), "w")
    return str(path)


def test_synthetic_board_streams_16_emg_channels_at_250_hz_in_the_lsl_clock():
    src = BrainFlowSource("SYNTHETIC_BOARD")
    assert src.info.rate == 250.0 and src.info.n_channels == 16 and src.info.unit == "uV"
    assert src.info.channel_names[0] == "EMG1"
    with opened(src):
        got = _read_for(src, 100)
        now = pylsl_module().local_clock()
    assert len(got) >= 100 and got.data.shape[1] == 16 and np.isfinite(got.data).all()
    assert got.data.std() > 0
    assert np.all(np.diff(got.timestamps) >= 0)
    # Unix stamps were mapped to the LSL clock: the last sample is from the last moment.
    assert now - 5.0 < got.timestamps[-1] <= now + 0.1
    assert got.lost <= 5  # the synthetic generator only stalls when the machine does


def test_playback_board_reproduces_a_file_recorded_from_the_synthetic_board(tmp_path):
    board = BoardShim(BoardIds.SYNTHETIC_BOARD, BrainFlowInputParams())
    board.prepare_session()
    board.start_stream()
    time.sleep(1.0)
    recorded = board.get_board_data()
    board.stop_stream()
    board.release_session()
    assert recorded.shape[1] > 100
    path = _write_board_file(tmp_path / "synthetic.csv", recorded)

    src = BrainFlowSource("PLAYBACK_FILE_BOARD", params={"file": path, "master_board": "SYNTHETIC_BOARD"})
    assert src.info.n_channels == 16 and src.info.rate == 250.0
    with opened(src):
        got = _read_for(src, recorded.shape[1])
    emg_rows = BoardShim.get_emg_channels(BoardIds.SYNTHETIC_BOARD)
    assert len(got) == recorded.shape[1]
    np.testing.assert_allclose(got.data, recorded[emg_rows].T, rtol=1e-5, atol=1e-5)


def test_board_without_emg_channels_falls_back_to_eeg_rows(tmp_path):
    # A Callibri in EEG mode (board 9): rows 0 package, 1 EEG, 2 timestamp, 3 marker.
    n = 50
    data = np.zeros((4, n))
    data[1] = np.sin(np.arange(n) / 3.0) * 100.0
    data[2] = time.time() + np.arange(n) / 250.0
    path = _write_board_file(tmp_path / "callibri.csv", data)
    src = BrainFlowSource(
        "PLAYBACK_FILE_BOARD", params={"file": path, "master_board": BoardIds.CALLIBRI_EEG_BOARD.value}
    )
    assert src.info.n_channels == 1 and "EEG channels" in src.note
    with opened(src):
        got = _read_for(src, n)
    np.testing.assert_allclose(got.data[:, 0], data[1], atol=1e-4)


@pytest.mark.skipif(platform.system() == "Windows", reason="BrainFlow ships the gForce driver for Windows")
@pytest.mark.parametrize(
    "make",
    [
        lambda: BrainFlowSource("GFORCE_PRO_BOARD"),
        lambda: BrainFlowSource(19),
        lambda: BrainFlowSource.from_profile(load_profile("gforce-pro")),
    ],
)
def test_gforce_off_windows_says_the_driver_is_windows_only(make):
    with pytest.raises(MyostreamError, match="the gForce driver is only shipped by BrainFlow for Windows"):
        make()


def test_unknown_boards_and_parameters_are_explained(tmp_path):
    with pytest.raises(
        MyostreamError, match=r"Unknown BrainFlow board 'SYNTHTIC_BOARD' \(did you mean SYNTHETIC_BOARD"
    ):
        BrainFlowSource("SYNTHTIC_BOARD")
    with pytest.raises(MyostreamError, match="Unknown BrainFlow board id 999.*BoardIds"):
        BrainFlowSource(999)
    with pytest.raises(MyostreamError, match="Unknown BrainFlow parameter 'serial'; use one of .*serial_port"):
        BrainFlowSource("CYTON_BOARD", params={"serial": "/dev/ttyUSB0"})
    with pytest.raises(MyostreamError, match="needs params master_board"):
        BrainFlowSource("PLAYBACK_FILE_BOARD", params={"file": "x.csv"})
    with pytest.raises(MyostreamError, match="playback file .*missing.csv.* does not exist"):
        BrainFlowSource("PLAYBACK_FILE_BOARD", params={"file": str(tmp_path / "missing.csv"), "master_board": -1})
    with pytest.raises(MyostreamError, match=r"channel rows \[30\] are not data rows"):
        BrainFlowSource("SYNTHETIC_BOARD", channels=[30])  # row 30 holds the synthetic board's timestamps


def test_board_names_numbers_and_members_all_resolve():
    assert board_id("SYNTHETIC_BOARD") == board_id("synthetic") == board_id(-1) == board_id("-1") == -1
    assert board_id(BoardIds.CYTON_BOARD) == 0
    src = BrainFlowSource("SYNTHETIC_BOARD", channels=[3, 1])
    assert src.rows == (3, 1) and src.info.n_channels == 2


def test_profile_supplies_names_and_unit_and_its_channel_count_is_checked():
    profile = load_profile("brainflow-synthetic")
    src = BrainFlowSource.from_profile(profile)
    assert src.info.name == "brainflow-synthetic" and src.info.n_channels == 16
    assert src.info.channel_names == profile.channel_names and src.info.unit == profile.unit
    eight = DeviceProfile(
        "my-8ch",
        "",
        "brainflow",
        250.0,
        tuple(f"c{i}" for i in range(8)),
        "uV",
        options={"brainflow": {"board": "SYNTHETIC_BOARD"}},
    )
    with pytest.raises(MyostreamError, match="declares 8 channels but BrainFlow board SYNTHETIC_BOARD streams 16"):
        BrainFlowSource.from_profile(eight)
    assert BrainFlowSource.from_profile(eight, channels=list(range(1, 9))).info.channel_names[0] == "c0"


def test_a_board_that_cannot_start_is_one_clear_error_and_is_released():
    src = BrainFlowSource("CYTON_BOARD", params={"serial_port": "/dev/myostream-no-such-port"})
    with pytest.raises(MyostreamError, match="Could not start BrainFlow board CYTON_BOARD .*serial_port"):
        src.open()
    with pytest.raises(MyostreamError, match="is not open"):
        src.read()
    src.close()
    src.close()
