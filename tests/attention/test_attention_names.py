"""`toolkit.attention.get` / `available`: one set of attention names for every recipe."""

import re

import keras
import numpy as np
import pytest

import toolkit
from toolkit.attention import BahdanauAttention
from toolkit.attention import LocationAwareAttention
from toolkit.attention import LuongAttention
from toolkit.attention import available
from toolkit.attention import get

# name -> (class, score or None, whether `units` reaches the mechanism)
EXPECTED = {
    "bahdanau": (BahdanauAttention, None, True),
    "luong-dot": (LuongAttention, "dot", False),
    "luong-general": (LuongAttention, "general", False),
    "luong-concat": (LuongAttention, "concat", True),
    "location": (LocationAwareAttention, None, True),
}


@pytest.mark.no_keras_state
def test_available_lists_the_names_in_order():
    assert available() == tuple(EXPECTED)
    assert "none" not in available()  # no attention is the callers' choice


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_name_builds_its_class_with_its_score(name):
    cls, score, takes_units = EXPECTED[name]
    mechanism = get(name, 6, name="attention")
    assert type(mechanism) is cls
    assert mechanism.name == "attention"
    assert getattr(mechanism, "score", None) == score
    assert mechanism.units == (6 if takes_units else None)
    assert mechanism.requires_previous_alignments == (name == "location")
    # Each one attends: query (batch, 6), memory (batch, time, 6).
    query = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    memory = np.random.default_rng(1).normal(size=(2, 5, 6)).astype("float32")
    previous = np.full((2, 5), 0.2, "float32")
    context, alignments = mechanism(
        query, memory, previous_alignments=previous if name == "location" else None
    )
    assert tuple(context.shape) == (2, 6) and tuple(alignments.shape) == (2, 5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(alignments).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_get_gives_the_mechanism_its_class_gives(name):
    cls, score, takes_units = EXPECTED[name]
    direct = cls(
        **({"units": 6} if takes_units else {}), **({"score": score} if score else {}), name="a"
    )
    assert get(name, 6, name="a").get_config() == direct.get_config()


@pytest.mark.no_keras_state
@pytest.mark.parametrize("spelling", ["luong", "Luong", " LUONG-general "])
def test_luong_is_the_general_score_and_names_ignore_case(spelling):
    mechanism = get(spelling)
    assert type(mechanism) is LuongAttention and mechanism.score == "general"


@pytest.mark.no_keras_state
def test_further_arguments_reach_the_class():
    assert get("bahdanau", 4, normalize=True).normalize
    assert get("luong-dot", scale=True).scale
    location = get("location", 4, filters=3, kernel_size=5, cumulative=True)
    assert (location.filters, location.kernel_size, location.cumulative) == (3, 5, True)
    config = get("luong-general", kernel_initializer="zeros").get_config()
    assert config["kernel_initializer"]["class_name"] == "Zeros"


@pytest.mark.no_keras_state
@pytest.mark.parametrize("name", ["additive", "none", "luong-typo", "", None, 3])
def test_unknown_names_raise_naming_the_argument_and_the_known_names(name):
    known = r"\['bahdanau', 'luong-dot', 'luong-general', 'luong-concat', 'location'\]"
    received = re.escape(f"Received: name={name!r}")
    with pytest.raises(
        ValueError, match=rf"^Argument `name` expected one of {known}\. {received}$"
    ):
        get(name, 4)


@pytest.mark.no_keras_state
def test_the_arguments_a_name_fixes_cannot_be_passed():
    with pytest.raises(
        ValueError,
        match=r"Argument `score` is set by the attention name: 'luong-dot' is score='dot'\. "
        r"Received: score='general'",
    ):
        get("luong-dot", score="general")


@pytest.mark.no_keras_state
@pytest.mark.parametrize("name", ["bahdanau", "luong-concat", "location"])
def test_a_mechanism_with_a_depth_needs_units(name):
    with pytest.raises(ValueError, match=r"Argument `units` expected a positive integer"):
        get(name)


def test_exported_from_toolkit_attention():
    assert toolkit.attention.get is get and toolkit.attention.available is available
