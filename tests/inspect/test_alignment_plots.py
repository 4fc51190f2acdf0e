"""Tests of `toolkit.inspect.plot_attention`."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from toolkit.inspect import plot_attention  # noqa: E402


def alignments(target_steps=4, source_steps=5, seed=0):
    values = np.random.default_rng(seed).random((target_steps, source_steps))
    return values / values.sum(axis=1, keepdims=True)


def drawn(figure):
    images = [axes.images[0] for axes in figure.axes if axes.images]
    assert len(images) == 1
    return images[0]


def test_heatmap_is_target_rows_by_source_columns_on_a_unit_scale(tmp_path):
    weights = alignments()

    figure = plot_attention(weights, title="example")

    assert isinstance(figure, Figure)
    image = drawn(figure)
    np.testing.assert_array_equal(image.get_array(), weights.astype("float32"))
    assert image.get_clim() == (0.0, 1.0)
    assert figure.axes[0].get_xlabel() == "source"
    assert figure.axes[0].get_ylabel() == "target"
    path = tmp_path / "attention.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tokens_label_the_axes_and_cut_the_padding():
    weights = alignments(target_steps=6, source_steps=7)

    figure = plot_attention(weights, source_tokens=["a", "b", "c"], target_tokens=["x", "y"])

    np.testing.assert_array_equal(drawn(figure).get_array(), weights[:2, :3].astype("float32"))
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == ["a", "b", "c"]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["x", "y"]


def test_lengths_cut_the_padding_without_labels():
    weights = alignments(target_steps=6, source_steps=7)

    figure = plot_attention(weights, source_length=4, target_length=5)

    np.testing.assert_array_equal(drawn(figure).get_array(), weights[:5, :4].astype("float32"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alignments": np.zeros((2, 3, 4))}, "alignments.shape=(2, 3, 4)"),
        ({"source_tokens": ["a"] * 9}, "len(source_tokens)=9"),
        ({"source_tokens": "abc"}, "source_tokens='abc'"),
        ({"target_length": 0}, "target_length=0"),
        ({"target_length": 2, "target_tokens": ["a", "b"]}, "target_length=2"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    kwargs = {"alignments": alignments(), **kwargs}
    with pytest.raises(ValueError) as error:
        plot_attention(**kwargs)
    assert message in str(error.value)
