"""Description catalogs: every shipped catalog is complete and consistent; bad files fail clearly."""

from __future__ import annotations

import re
import textwrap

import pytest

from myostream.errors import MyostreamError
from myostream.text.catalog import (
    EMG2POSE_STAGES,
    MIN_PARAPHRASES,
    catalog_for,
    catalog_names,
    hold_out_paraphrases,
    load_catalog,
    load_catalogs,
)


def test_shipped_catalogs_load_and_every_class_has_all_views():
    assert {"armband", "ninapro", "emg2pose"} <= set(catalog_names())
    for name in catalog_names():
        catalog = load_catalog(name)
        for c in catalog:
            assert c.t0 and c.t1 and c.t2, c.id
            assert len(c.t3) >= MIN_PARAPHRASES, c.id
            assert len(c.t1) > len(c.t0) and len(c.t2) > len(c.t0), c.id
            assert c.catalog == catalog.name


def test_merged_catalogs_have_unique_ids_and_cover_every_dataset_class():
    catalog = load_catalogs()
    assert len(catalog.ids) == len(set(catalog.ids)) == 11 + 61 + 29
    ninapro = [c for c in catalog.ids if c.startswith("ninapro.")]
    for letter, n in {"A": 12, "B": 17, "C": 23, "D": 9}.items():
        assert [c for c in ninapro if c[8] == letter] == [f"ninapro.{letter}{i:02d}" for i in range(1, n + 1)]
    assert sorted(catalog.label_map("emg2pose")) == sorted(EMG2POSE_STAGES)
    assert len(EMG2POSE_STAGES) == len(set(EMG2POSE_STAGES)) == 29
    for stage, class_id in catalog.label_map("emg2pose").items():
        assert class_id == f"emg2pose.{stage}"


def test_armband_labels_follow_the_dataset_conventions():
    from myostream.stream.simulated import SimulatedArmband

    catalog = load_catalogs()
    myo = {
        0: "rest",
        1: "radial_deviation",
        2: "wrist_flexion",
        3: "ulnar_deviation",
        4: "wrist_extension",
        5: "fist",
        6: "open_hand",
    }
    assert catalog.label_map("myo_armband") == myo
    names = SimulatedArmband(realtime=False).info.label_names
    assert catalog.label_map("simulated_armband") == dict(enumerate(names))


def test_ninapro_labels_match_the_reader_table():
    from myostream.data.ninapro import numberings

    catalog = load_catalogs()
    for dataset, database, exercises in (
        ("ninapro_db1_e{}", "db1", (1, 2, 3)),
        ("ninapro_db2", "db2", (1, 2, 3)),
        ("ninapro_db3", "db3", (1, 2, 3)),
    ):
        for exercise in exercises:
            documented = dict(numberings(database, exercise)[0][1])
            ours = catalog.label_map(dataset.format(exercise))
            assert {code: ours[code] for code in documented} == documented, (database, exercise)
            assert ours[0] == "rest"


def test_anatomy_words_are_where_they_belong():
    catalog = load_catalogs()
    assert "thumb" in catalog["radial_deviation"].t2 and "little-finger" in catalog["ulnar_deviation"].t2
    assert "palm" in catalog["wrist_flexion"].t1 and "back of the hand" in catalog["wrist_extension"].t1
    for class_id, finger in {
        "ninapro.A01": "index",
        "ninapro.A03": "middle",
        "ninapro.A05": "ring",
        "ninapro.A07": "little",
    }.items():
        assert finger in catalog[class_id].t1 and "flex" in catalog[class_id].t1


def test_glove_t1_is_used_where_none_is_written():
    catalog = load_catalog("ninapro")
    glove = [c.id for c in catalog if c.t1_source == "glove"]
    assert glove == [f"ninapro.A{i:02d}" for i in range(1, 13)]
    assert catalog["ninapro.A01"].t1.startswith("From a relaxed hand, the index finger flexes")


def test_catalog_for_keeps_the_given_order_and_names_unknown_ids():
    assert catalog_for(["fist", "rest", "ninapro.A01"]).ids == ("fist", "rest", "ninapro.A01")
    with pytest.raises(MyostreamError, match="'no_such_gesture'"):
        catalog_for(["rest", "no_such_gesture"])


def test_hold_out_paraphrases_removes_the_queries_from_the_catalog():
    catalog = load_catalog("armband")
    kept, queries = hold_out_paraphrases(catalog, 1)
    assert len(queries) == len(catalog)
    for text, class_id in queries:
        assert text == catalog[class_id].t3[-1]
        assert text not in kept[class_id].t3
        assert len(kept[class_id].t3) == len(catalog[class_id].t3) - 1


GOOD = """
[[class]]
id = "a"
T0 = "alpha"
T1 = "process alpha"
T2 = "canonical alpha"
T3 = ["one a", "two a", "three a"]
labels = { myo_armband = [1] }
"""


def _write(tmp_path, body: str, name: str = "bad.toml"):
    path = tmp_path / name
    path.write_text('[catalog]\nname = "test"\n' + textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            GOOD.replace('T2 = "canonical alpha"\n', ""),
            r"class 'a' lacks the key 'T2'; add it \(see models/descriptions/armband.toml\)",
        ),
        (GOOD.replace('T3 = ["one a", "two a", "three a"]', 'T3 = ["one a", "two a"]'), r"class 'a' has 2 paraphrase"),
        (GOOD.replace('T3 = ["one a", "two a", "three a"]\n', ""), r"class 'a' lacks the key 'T3'"),
        (
            GOOD + GOOD.replace("alpha", "beta").replace(' a"', ' b"').replace("[1]", "[2]"),
            r"class id 'a' is defined twice",
        ),
        (
            GOOD + GOOD.replace('"a"', '"b"').replace("alpha", "beta").replace(' a"', ' b"'),
            r"myo_armband label 1 is mapped to both class 'a' and class 'b'",
        ),
        (GOOD.replace("myo_armband = [1]", "myo_armband = [7]"), r"class 'a' maps myo_armband label 7"),
        (
            GOOD.replace("myo_armband = [1]", "my_lab = [true]"),
            r"class 'a' labels\.my_lab must be a list of whole numbers or texts, got \[True\]",
        ),
        (
            GOOD.replace("T0 =", "T4 = 'x'\nT0 ="),
            r"class 'a' has unknown key 'T4'; allowed keys are T0, T1, T2, T3, id, labels",
        ),
        (GOOD.replace('T1 = "process alpha"', 'T1 = "glove"'), r"class 'a' takes T1 from glove-derived text"),
        (GOOD.replace('"two a"', '"One A"'), r"class 'a' repeats a paraphrase"),
        (
            GOOD + GOOD.replace('"a"', '"b"').replace("[1]", "[2]").replace("alpha", "beta"),
            r"class 'b' reuses the text",
        ),
        (
            GOOD.replace('id = "a"', 'id = "a b"'),
            r"class #1 id must be a class id of letters, digits, '_' and '.', got 'a b'",
        ),
        (GOOD.replace("[[class]]", "[[class]"), r"is not valid TOML"),
        ("", r"has no \[\[class\]\] tables"),
    ],
)
def test_malformed_catalogs_name_the_file_and_the_class(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(MyostreamError, match=message) as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_a_good_tmp_catalog_loads_and_conflicts_across_files_are_caught(tmp_path):
    a = _write(tmp_path, GOOD, "a.toml")
    assert load_catalog(a).ids == ("a",)
    b = _write(tmp_path, GOOD.replace('"a"', '"b"'), "b.toml")
    with pytest.raises(MyostreamError, match=r"myo_armband label 1 is mapped to both class 'a' and class 'b'"):
        load_catalogs([a, b])
    with pytest.raises(MyostreamError, match=r"class id 'a' is defined twice"):
        load_catalogs([a, a])


def test_a_lab_s_own_dataset_maps_its_labels_onto_the_classes(tmp_path):
    """Datasets the project does not know are taken as given: their labels reach the class ids."""
    path = _write(tmp_path, GOOD.replace("myo_armband = [1]", 'my_lab = ["FIST", 3]'), "lab.toml")
    catalog = load_catalog(path)
    assert catalog.label_map("my_lab") == {"FIST": "a", 3: "a"}
    with pytest.raises(MyostreamError, match="No class of catalog 'test' maps labels of dataset 'other_lab'"):
        catalog.label_map("other_lab")


def test_the_armband_catalog_covers_forearm_rotation():
    armband = load_catalog("armband")
    assert {"pronation", "supination"} <= set(armband.ids)
    assert "palm faces down" in armband["pronation"].t1 and "palm up" in " ".join(armband["supination"].t3)


def test_unknown_catalog_names_say_what_exists(tmp_path):
    with pytest.raises(MyostreamError, match=r"Unknown description catalog 'nope'.*armband"):
        load_catalog("nope")
    with pytest.raises(MyostreamError, match=re.escape(str(tmp_path / "missing.toml"))):
        load_catalog(tmp_path / "missing.toml")
