"""Tests of `toolkit.inspect.plot_gates`."""

import doctest

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import toolkit  # noqa: E402
from toolkit.inspect import GateTrace  # noqa: E402
from toolkit.inspect import plot_gates  # noqa: E402
from toolkit.inspect import plots as plots_module  # noqa: E402
from toolkit.inspect import trace_gates  # noqa: E402


def padded_lstm_trace():
    """Trace of an LSTM(5) over 3 token sequences, left padded to 6 steps."""
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    outputs = toolkit.layers.LSTM(5, return_sequences=True, name="lstm")(embedded)
    model = keras.Model(inputs, outputs)
    tokens = np.array([[1, 2, 3, 4, 5, 6], [0, 0, 7, 8, 9, 1], [0, 0, 0, 0, 0, 0]], "int32")
    return trace_gates(model, tokens)["lstm"]


def heatmaps(figure):
    return [axes.images[0].get_array() for axes in figure.axes if axes.images]


def test_one_axes_per_gate_and_png_export(tmp_path):
    trace = padded_lstm_trace()

    figure = plot_gates(trace)

    assert isinstance(figure, Figure)
    assert len(figure.axes) == len(trace.gate_names)
    assert [axes.get_title(loc="left") for axes in figure.axes] == list(trace.gate_names)
    assert [image.shape for image in heatmaps(figure)] == [(5, 6)] * len(trace.gate_names)
    path = tmp_path / "gates.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_requested_gates_units_and_only_valid_steps():
    trace = padded_lstm_trace()

    figure = plot_gates(trace, sequence=1, gates=["forget_gate", "cell_state"], max_units=2)

    assert len(figure.axes) == 2
    forget, cell = heatmaps(figure)
    # Sequence 1 has 4 valid steps (2 to 5): the padding is not drawn.
    assert forget.shape == cell.shape == (2, 4)
    valid = trace.sequence(1)
    np.testing.assert_allclose(np.asarray(forget), valid["forget_gate"][:, :2].T)
    np.testing.assert_allclose(np.asarray(cell), valid["cell_state"][:, :2].T)
    assert not np.isnan(np.asarray(forget)).any()
    # The time axis is labelled with positions in the padded input.
    figure.canvas.draw()
    labels = [label.get_text() for label in figure.axes[-1].get_xticklabels()]
    assert [label for label in labels if label] == ["2", "3", "4", "5"]


def test_single_gate_name_and_fully_masked_sequence(tmp_path):
    trace = padded_lstm_trace()

    figure = plot_gates(trace, sequence=-1, gates="hidden_state", title="empty")

    assert len(figure.axes) == 1
    assert heatmaps(figure) == []
    assert figure.axes[0].texts[0].get_text() == "no valid steps"
    figure.savefig(tmp_path / "empty.png")


def test_does_not_register_pyplot_figures():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_gates(GateTrace("rnn", {"hidden_state": np.zeros((1, 3, 2))}))
    assert plt.get_fignums() == before


def test_invalid_arguments_raise():
    trace = GateTrace("rnn", {"hidden_state": np.zeros((2, 3, 2))})
    with pytest.raises(ValueError, match="gates"):
        plot_gates(trace, gates=["forget_gate"])
    with pytest.raises(ValueError, match="sequence"):
        plot_gates(trace, sequence=2)
    with pytest.raises(ValueError, match="max_units"):
        plot_gates(trace, max_units=0)
    with pytest.raises(ValueError, match="trace"):
        plot_gates({"hidden_state": np.zeros((2, 3, 2))})


def test_docstring_example():
    results = doctest.testmod(plots_module)
    assert results.attempted > 0
    assert results.failed == 0
