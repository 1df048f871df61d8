import pytest

from myostream.cli import main
from myostream.errors import MyostreamError
from myostream.resources import resource_dir
from myostream.sources import lsl_query, make_source
from myostream.stream.devices import list_profiles, load_profile, runs_here

REQUIRED = {
    "simulated",
    "myo-lsl",
    "gforce-pro",
    "openbci-cyton",
    "brainflow-synthetic",
    "ant-neuro-ee410",
    "ninapro-db1",
    "ninapro-db2",
    "ninapro-db3",
    "ninapro-db5",
    "emg2pose",
}


def test_every_shipped_profile_loads_with_consistent_channels():
    profiles = {p.name: p for p in list_profiles()}
    assert REQUIRED <= set(profiles)
    for p in profiles.values():
        assert p.rate > 0 and len(p.channel_names) == p.n_channels and p.unit
    assert profiles["ninapro-db1"].rate == 100 and profiles["ninapro-db1"].n_channels == 10
    assert profiles["gforce-pro"].options["brainflow"]["board"] == "GFORCE_PRO_BOARD"


def test_gforce_does_not_run_on_linux_but_simulated_does(monkeypatch):
    import platform

    monkeypatch.setattr(platform, "system", lambda: "Linux")
    ok, why = runs_here(load_profile("gforce-pro"))
    assert not ok and "Windows" in why
    assert runs_here(load_profile("simulated"))[0]


def test_unknown_and_malformed_profiles_name_the_problem(tmp_path):
    with pytest.raises(MyostreamError, match="Unknown device 'nope'.*simulated"):
        load_profile("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('transport = "lsl"\nrate = 200\nchannels = 2\nunit = "uV"\nchannel_names = ["a"]\n')
    with pytest.raises(MyostreamError, match="declares 2 channels but names 1"):
        load_profile(bad)
    bad.write_text('transport = "usb"\nrate = 200\nchannels = 2\nunit = "uV"\n')
    with pytest.raises(MyostreamError, match="transport must be one of simulated, lsl, brainflow, replay, got 'usb'"):
        load_profile(bad)
    bad.write_text("rate = [")
    with pytest.raises(MyostreamError, match="not valid TOML"):
        load_profile(bad)


def test_recording_setups_are_not_live_sources_and_lsl_queries_parse():
    with pytest.raises(MyostreamError, match="myostream replay"):
        make_source("ninapro-db1")
    assert lsl_query("Myo") == {"name": "Myo"} and lsl_query("type=EMG") == {"type": "EMG"}
    with pytest.raises(MyostreamError):
        lsl_query("host=x")


def test_resources_ship_inside_the_package():
    assert (resource_dir("devices") / "simulated.toml").is_file()


def test_devices_command_lists_profiles(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "simulated" in out and "gforce-pro" in out and "no" in out


def test_cli_reports_unknown_device_in_one_sentence(capsys):
    assert main(["stream", "--device", "nope", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("myostream stream: Unknown device 'nope'") and "Traceback" not in err


def test_devices_command_lists_lsl_streams_visible_now(capsys, stream_name):
    from myostream.records import StreamInfo
    from myostream.stream.lsl import LSLOutlet

    outlet = LSLOutlet(StreamInfo(stream_name, 200.0, ("a", "b")), name=stream_name)
    try:
        assert main(["devices"]) == 0
    finally:
        outlet.close()
    assert stream_name in capsys.readouterr().out
