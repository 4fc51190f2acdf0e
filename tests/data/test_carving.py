"""The split policy of `toolkit.data.carving`, on index lists: whole groups, items within groups,
strata, plain items; each expectation counted by hand from the documented rule."""

import collections
import json

import numpy as np
import pytest

from toolkit.data.carving import carve

pytestmark = pytest.mark.no_keras_state


def speakers_of(**sizes):
    """One speaker key per utterance: `speakers_of(a=2, b=1)` -> `["a", "a", "b"]`."""
    return [name for name, size in sizes.items() for _ in range(size)]


def per_group(keys, indices):
    return dict(collections.Counter(keys[i] for i in indices))


def carve_utterances(keys, fractions, seed=0):
    return carve(
        len(keys), fractions, seed, source="corpus", item="utterance", groups=keys, group="speaker"
    )


def test_three_uneven_speakers_are_carved_within_speakers():
    """The reported corpus: 3 speakers, one of them 40% of train, dev_fraction=0.1. Whole
    speakers gave dev one speaker - at least 200 of 750 utterances - for 75 asked."""
    keys = speakers_of(a=300, b=250, c=200)
    carving = carve_utterances(keys, {"dev": 0.1})
    # dev: round(0.1 * 750) = 75 utterances. The smallest speaker, 200, is over 1.5 * 75 =
    # 112.5, so no whole speaker fits. Stratified by speaker, train's 675 are 90% of each
    # speaker (270, 225, 180) and dev the other 10% (30, 25, 20).
    assert per_group(keys, carving.parts["dev"]) == {"a": 30, "b": 25, "c": 20}
    assert per_group(keys, carving.train) == {"a": 270, "b": 225, "c": 180}
    assert sorted(carving.train + carving.parts["dev"]) == list(range(750))
    assert carving.policy == {"dev": "by utterance within speakers", "test": "given"}
    assert carving.unit == "utterance" and carving.stratified is True
    assert carving.notes == [
        "dev carved by utterance within the 3 speakers: one whole speaker would be at least "
        "200 of the 750 utterances (27%) for dev_fraction=0.1 (75 utterances)"
    ]
    assert json.loads(json.dumps(carving.record())) == {
        "dev": "by utterance within speakers",
        "test": "given",
        "reason": carving.reason,
    }


def test_whole_speakers_are_kept_within_one_and_a_half_times_the_size():
    # 8 speakers of 15 utterances: test and dev ask round(0.1 * 120) = 12 each, and one
    # speaker (15 <= 1.5 * 12 = 18) fits each; train keeps 6 speakers, 90 utterances.
    keys = speakers_of(**{f"s{i}": 15 for i in range(8)})
    carving = carve_utterances(keys, {"test": 0.1, "dev": 0.1})
    assert carving.policy == {"dev": "by speaker", "test": "by speaker"}
    for name in ("test", "dev"):
        assert list(per_group(keys, carving.parts[name]).values()) == [15]
    assert len(carving.train) == 90 and len(per_group(keys, carving.train)) == 6
    assert not set(per_group(keys, carving.train)) & set(per_group(keys, carving.parts["dev"]))
    assert carving.unit == "speaker"
    assert carving.reason == (
        "dev 15 utterances in 1 whole speaker for 12 asked, test 15 utterances in 1 whole "
        "speaker for 12 asked; train keeps 6 of the 8 speakers"
    )
    # 6 speakers of 20: one speaker is over 18, so dev and test are carved within speakers:
    # train keeps 108 = 18 of each, test and dev 2 of each.
    keys = speakers_of(**{f"s{i}": 20 for i in range(6)})
    carving = carve_utterances(keys, {"test": 0.1, "dev": 0.1})
    assert carving.policy == {
        "dev": "by utterance within speakers",
        "test": "by utterance within speakers",
    }
    for name in ("test", "dev"):
        assert per_group(keys, carving.parts[name]) == {f"s{i}": 2 for i in range(6)}
    assert carving.reason == (
        "one whole speaker would be at least 20 of the 120 utterances (17%) for "
        "test_fraction=0.1 (12 utterances)"
    )


def test_whole_speakers_must_leave_train_two_speakers():
    # 3 speakers of 10, test and dev ask round(7.5) = 8 each: one speaker each (10 <= 12)
    # would leave train one speaker.
    keys = speakers_of(a=10, b=10, c=10)
    carving = carve_utterances(keys, {"test": 0.25, "dev": 0.25})
    assert carving.reason == "whole speakers would leave train 1 speaker of 3 (at least 2 wanted)"
    assert [len(carving.parts[name]) for name in ("test", "dev")] == [8, 8]
    assert len(carving.train) == 14
    for indices in (carving.train, carving.parts["test"], carving.parts["dev"]):
        assert set(per_group(keys, indices)) == {"a", "b", "c"}


def test_too_few_to_stratify_by_speaker_falls_back_to_single_utterances():
    # 2 speakers of 3: test and dev ask 1 each, fewer than the 2 speakers to stratify on.
    keys = speakers_of(a=3, b=3)
    carving = carve_utterances(keys, {"test": 0.1, "dev": 0.1})
    assert carving.policy == {"dev": "by utterance", "test": "by utterance"}
    assert carving.stratified is False
    assert [len(carving.parts[name]) for name in ("test", "dev")] == [1, 1]
    assert carving.reason.startswith(
        "one whole speaker would be at least 3 of the 6 utterances (50%) for test_fraction=0.1 "
        "(1 utterance); not stratified by speaker ("
    )


def test_single_items_are_drawn_in_the_seeded_order():
    """Pairs (no groups): test takes the first 5 of `default_rng(seed).permutation`, dev the
    next 10 - the rule `load_parallel_splits` always had."""
    carving = carve(50, {"test": 0.1, "dev": 0.2}, 4, source="pairs.tsv", item="pair")
    order = np.random.default_rng(4).permutation(50).tolist()
    assert carving.parts == {"test": sorted(order[:5]), "dev": sorted(order[5:15])}
    assert carving.train == sorted(order[15:])
    assert carving.record() == {
        "dev": "by pair",
        "test": "by pair",
        "reason": "pairs are not grouped",
    }
    assert carving.notes == ["dev and test carved by pair: pairs are not grouped"]


def test_same_arguments_give_the_same_carving():
    uneven = speakers_of(a=300, b=250, c=200)
    even = speakers_of(**{f"s{i:02d}": 30 + i % 3 for i in range(20)})
    for keys in (uneven, even):
        first = carve_utterances(keys, {"test": 0.1, "dev": 0.1}, seed=5)
        assert carve_utterances(keys, {"test": 0.1, "dev": 0.1}, seed=5) == first
        other = carve_utterances(keys, {"test": 0.1, "dev": 0.1}, seed=6)
        assert other.parts != first.parts and other.policy == first.policy


def test_zero_fractions_given_splits_and_too_few_items():
    carving = carve(6, {"test": 0.5, "dev": 0.0}, 0, source="pairs.tsv", item="pair")
    assert carving.policy == {"dev": "empty", "test": "by pair"}
    assert carving.parts["dev"] == [] and len(carving.parts["test"]) == 3
    assert carving.notes == ["test carved by pair: pairs are not grouped"]
    carving = carve(6, {}, 0, source="pairs.tsv", item="pair")
    assert carving.record() == {"dev": "given", "test": "given", "reason": "every split is given"}
    assert carving.train == list(range(6)) and carving.notes == [] and carving.unit is None
    with pytest.raises(
        ValueError,
        match=r"^corpus: holds 2 utterances in 1 group \(speakers\), too few to carve "
        r"test_fraction=0\.1, dev_fraction=0\.1 out of it and keep utterances for train$",
    ):
        carve_utterances(["a", "a"], {"test": 0.1, "dev": 0.1})


def test_utterances_without_a_speaker_are_single_items():
    carving = carve_utterances([None] * 10, {"test": 0.2, "dev": 0.2})
    assert carving.record() == {
        "dev": "by utterance",
        "test": "by utterance",
        "reason": "no utterance has a speaker",
    }
    assert [len(carving.parts[name]) for name in ("test", "dev")] == [2, 2]
