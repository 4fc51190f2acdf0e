"""load_speech_splits: given split folders, TIMIT's TRAIN/TEST, seeded speaker-grouped carving."""

import collections
import json
import wave

import numpy as np
import pytest

from toolkit.data import SpeechCorpus
from toolkit.data import Utterance
from toolkit.data import label_inventory
from toolkit.data import load_speech_splits

pytestmark = pytest.mark.no_keras_state


def utterance(folder, stem, labels=("sil", "a"), count=800, rate=16000):
    """`stem.wav` (`count` samples) and a `.phn` splitting it evenly between `labels`."""
    folder.mkdir(parents=True, exist_ok=True)
    with wave.open(str(folder / f"{stem}.wav"), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(np.zeros(count, "<i2").tobytes())
    bounds = np.linspace(0, count, len(labels) + 1).astype(int)
    lines = [f"{bounds[i]} {bounds[i + 1]} {label}\n" for i, label in enumerate(labels)]
    (folder / f"{stem}.phn").write_text("".join(lines))


def speakers(root, names, per_speaker=3, labels=("sil", "a")):
    for name in names:
        for index in range(per_speaker):
            utterance(root / name, f"u{index}", labels)


def speaker_sets(splits):
    return {name: {u.speaker for u in split.utterances} for name, split in splits.items()}


def test_given_split_folders_are_used(tmp_path):
    speakers(tmp_path / "train", ["s1", "s2"])
    speakers(tmp_path / "valid", ["s3"], per_speaker=1)
    speakers(tmp_path / "test", ["s4"], per_speaker=2, labels=("sil", "b"))
    (tmp_path / "README.txt").write_text("about")
    splits, record = load_speech_splits(tmp_path, frame_length=400, frame_step=160)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [6, 1, 2]
    assert splits["train"].ids[0] == "train/s1/u0" and splits["dev"].ids == ["valid/s3/u0"]
    assert splits["test"].source == str(tmp_path / "test")
    assert record["layout"] == "split folders" and record["grouped_by"] is None
    assert record["splits"]["train"] == {
        "source": str(tmp_path / "train"),
        "utterances": 6,
        "speakers": 2,
        "frames": 6 * 3,  # 800 samples: 1 + (800 - 400) // 160 frames
        "seconds": 0.3,
    }
    assert record["labels"] == ["a", "sil"]
    assert record["unseen_labels"] == {"dev": {}, "test": {"b": 2}}
    assert any("README.txt" in note for note in record["notes"])
    assert "dev_fraction and test_fraction unused: every split is given" in record["notes"]
    assert json.loads(json.dumps(record)) == record


def test_timit_train_test_folders_carve_dev_by_speaker(tmp_path):
    speakers(tmp_path / "TRAIN" / "DR1", [f"M{i:02d}" for i in range(10)], per_speaker=2)
    speakers(tmp_path / "TEST" / "DR1", ["F00", "F01"], per_speaker=2)
    splits, record = load_speech_splits(tmp_path, dev_fraction=0.2, seed=3)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [16, 4, 4]
    sets = speaker_sets(splits)
    assert not sets["train"] & sets["dev"] and len(sets["dev"]) == 2
    assert all(u.id.startswith("TRAIN/DR1/M") for u in splits["dev"].utterances)
    assert splits["dev"].source == f"split of {tmp_path / 'TRAIN'}"
    assert record["grouped_by"] == "speaker" and record["splits"]["dev"]["fraction"] == 0.2
    assert "fraction" not in record["splits"]["test"]
    again, _ = load_speech_splits(tmp_path, dev_fraction=0.2, seed=3)
    assert again["dev"].ids == splits["dev"].ids


def test_few_uneven_speakers_are_carved_by_utterance_within_speakers(tmp_path):
    """TIMIT's layout with 3 training speakers: dev_fraction=0.1 carved one whole speaker
    (8 to 12 of the 30 utterances, up to 40%) as dev, so training stopped early on one
    unseen voice and lost up to a third of its data."""
    for name, count in (("A", 12), ("B", 10), ("C", 8)):
        speakers(tmp_path / "train" / "DR1", [name], per_speaker=count)
    speakers(tmp_path / "test" / "DR1", ["D"], per_speaker=2)
    splits, record = load_speech_splits(tmp_path, dev_fraction=0.1, seed=3)
    # dev asks round(0.1 * 30) = 3 utterances; the smallest speaker, 8, is over 1.5 * 3.
    # Stratified by speaker, train keeps 27: 10.8, 9 and 7.2 rounded to 11, 9, 7 (the
    # largest remainder, A's, takes the one left), so dev holds one utterance of each.
    counts = {
        name: collections.Counter(u.speaker for u in split.utterances)
        for name, split in splits.items()
    }
    assert counts["dev"] == {"A": 1, "B": 1, "C": 1}
    assert counts["train"] == {"A": 11, "B": 9, "C": 7}
    assert counts["test"] == {"D": 2}
    assert record["grouped_by"] == "utterance"
    assert record["split_policy"] == {
        "dev": "by utterance within speakers",
        "test": "given",
        "reason": "one whole speaker would be at least 8 of the 30 utterances (27%) for "
        "dev_fraction=0.1 (3 utterances)",
    }
    assert [record["splits"][name]["speakers"] for name in ("train", "dev", "test")] == [3, 3, 1]
    assert (
        "dev carved by utterance within the 3 speakers: one whole speaker would be at least "
        "8 of the 30 utterances (27%) for dev_fraction=0.1 (3 utterances)"
    ) in record["notes"]
    assert json.loads(json.dumps(record)) == record
    again, _ = load_speech_splits(tmp_path, dev_fraction=0.1, seed=3)
    assert again["dev"].ids == splits["dev"].ids and again["train"].ids == splits["train"].ids


def test_many_similar_speakers_stay_speaker_disjoint(tmp_path):
    for index in range(20):
        speakers(tmp_path, [f"s{index:02d}"], per_speaker=2 + index % 2)  # 50 utterances
    for seed in range(3):
        splits, record = load_speech_splits(tmp_path, seed=seed)
        sets = speaker_sets(splits)
        assert not (
            sets["train"] & sets["dev"]
            or sets["train"] & sets["test"]
            or sets["dev"] & sets["test"]
        )
        # Each asks round(0.1 * 50) = 5: whole speakers of 2 or 3 give 4 to 7 (1.5 * 5).
        for name in ("dev", "test"):
            assert 4 <= len(splits[name]) <= 7
            assert record["split_policy"][name] == "by speaker"
        assert record["grouped_by"] == "speaker"
        assert record["notes"][-1].startswith("dev and test carved by speaker: dev ")


def test_single_folder_seeded_split_is_reproducible_and_speaker_disjoint(tmp_path):
    speakers(tmp_path, [f"s{i}" for i in range(10)])
    splits, record = load_speech_splits(tmp_path, seed=7)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [24, 3, 3]
    sets = speaker_sets(splits)
    assert not (
        sets["train"] & sets["dev"] or sets["train"] & sets["test"] or sets["dev"] & sets["test"]
    )
    assert record["layout"] == "single source" and record["splits"]["test"]["speakers"] == 1
    assert load_speech_splits(tmp_path, seed=7)[0]["test"].ids == splits["test"].ids
    others = {tuple(load_speech_splits(tmp_path, seed=seed)[0]["test"].ids) for seed in range(5)}
    assert len(others) > 1
    by_utterance, record = load_speech_splits(tmp_path, seed=7, group_by_speaker=False)
    assert record["grouped_by"] == "utterance" and len(by_utterance["test"]) == 3


def test_speaker_level_groups_librispeech_chapters_under_their_speaker(tmp_path):
    """`speaker/chapter/utterance`: by default the chapter folders were the "speakers",
    so one speaker's chapters landed in train and test."""
    for speaker in range(6):
        for chapter in range(2):
            for index in range(2):
                utterance(tmp_path / f"spk{speaker}" / f"ch{speaker}{chapter}", f"u{index}")
    arguments = {"dev_fraction": 0.2, "test_fraction": 0.2, "seed": 3}
    _, record = load_speech_splits(tmp_path, **arguments)
    assert record["speaker_level"] == 1
    assert sum(split["speakers"] for split in record["splits"].values()) == 12  # chapters
    splits, record = load_speech_splits(tmp_path, speaker_level=2, **arguments)
    sets = speaker_sets(splits)
    assert set().union(*sets.values()) == {f"spk{i}" for i in range(6)}
    assert not (
        sets["train"] & sets["dev"] or sets["train"] & sets["test"] or sets["dev"] & sets["test"]
    )
    assert record["speaker_level"] == 2 and record["grouped_by"] == "speaker"
    # A level above every file: no speakers, so the utterances are split one by one.
    _, record = load_speech_splits(tmp_path, speaker_level=3, **arguments)
    assert record["grouped_by"] == "utterance"


@pytest.mark.parametrize("level", [0, -1, 1.5, True, "2"])
def test_bad_speaker_level_names_the_argument(tmp_path, level):
    speakers(tmp_path, ["s1"])
    with pytest.raises(ValueError, match=r"Argument `speaker_level` expected a positive integer"):
        load_speech_splits(tmp_path, speaker_level=level)


def test_utterances_without_speaker_folders_are_split_one_by_one(tmp_path):
    for index in range(10):
        utterance(tmp_path, f"u{index}")
    splits, record = load_speech_splits(tmp_path, dev_fraction=0.2, test_fraction=0.3)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [5, 2, 3]
    assert record["grouped_by"] == "utterance" and record["splits"]["dev"]["speakers"] == 0


def test_split_errors(tmp_path):
    speakers(tmp_path / "dev", ["s1"])
    speakers(tmp_path / "test", ["s2"])
    with pytest.raises(
        ValueError, match=r"holds the split folder\(s\) \['dev', 'test'\] but no train"
    ):
        load_speech_splits(tmp_path)
    speakers(tmp_path / "train", ["s3"])
    speakers(tmp_path / "Valid", ["s4"])
    with pytest.raises(ValueError, match=r"holds 2 folders for the dev split.*\['Valid', 'dev'\]"):
        load_speech_splits(tmp_path)

    single = tmp_path / "single"
    speakers(single, ["s1", "s2"])
    # Two speakers of 3 were "too few to carve" as whole speakers: now test and dev take one
    # utterance each (too few to stratify on 2 speakers, so not within speakers).
    splits, record = load_speech_splits(single)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [4, 1, 1]
    assert record["split_policy"]["dev"] == "by utterance" and record["grouped_by"] == "utterance"
    tiny = tmp_path / "tiny"
    speakers(tiny, ["s1"], per_speaker=2)
    # test and dev take one utterance each, and train has none left.
    with pytest.raises(ValueError, match=r"holds 2 utterances in 1 group \(speakers\), too few"):
        load_speech_splits(tiny)
    with pytest.raises(ValueError, match=r"the dev split is empty.*Received: dev_fraction=0\.0"):
        load_speech_splits(single, dev_fraction=0.0, test_fraction=0.2)
    with pytest.raises(ValueError, match=r"Argument `dev_fraction` expected a number in \[0, 1\)"):
        load_speech_splits(single, dev_fraction=1.5)

    mixed = tmp_path / "mixed"
    speakers(mixed / "train", ["s1"])
    (mixed / "test").mkdir()
    np.savez(mixed / "test" / "a.npz", features=np.zeros((2, 1)), labels=np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"holds splits in different formats"):
        load_speech_splits(mixed)
    with pytest.raises(ValueError, match="holds no recognized speech files"):
        load_speech_splits(single, format="npz")


def test_label_inventory_counts_train_frames_and_unseen_labels():
    def corpus(*labels):
        frames = np.array(labels)
        return SpeechCorpus(
            [Utterance("u", "u.npz", None, None, frame_labels=frames)], "c", "npz", None
        )

    inventory = label_inventory(
        {"train": corpus("a", "b", "a"), "dev": corpus("a"), "test": corpus("c", "d", "c")}
    )
    assert inventory == {
        "labels": ["a", "b"],
        "label_counts": {"a": 2, "b": 1},
        "unseen_labels": {"dev": {}, "test": {"c": 2, "d": 1}},
    }
