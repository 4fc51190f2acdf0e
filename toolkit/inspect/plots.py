"""Heatmaps of gate values over time."""

import numpy as np

from toolkit.inspect.traces import GateTrace


def plot_gates(
    trace,
    sequence=0,
    gates=None,
    max_units=None,
    cmap=None,
    figsize=None,
    title=None,
):
    """Draws the gates of one sequence as heatmaps over time.

    One subplot per gate, stacked vertically: time steps on the x axis (only
    the unmasked steps of the sequence, labelled with their position in the
    padded input), units on the y axis. The figure is built with
    `matplotlib.figure.Figure`, without `pyplot`, so it works with any
    backend (Agg included) and does not pop up windows; save it with
    `figure.savefig(path)` or display it in a notebook.

    Gates whose values all lie in `[0, 1]` (the sigmoid gates) share the
    `"viridis"` scale `[0, 1]`; other values (candidate, states) use the
    diverging `"RdBu_r"` scale, symmetric around zero. Each subplot has a
    colorbar (an inset axes, so `figure.axes` holds one axes per gate).

    Args:
        trace: A `GateTrace` (a value of the dict `trace_gates` returns).
        sequence: Integer (default `0`), position of the sequence in the
            batch.
        gates: Optional gate name or list of gate names to draw, in that
            order (default: every gate, in `trace.gate_names` order).
        max_units: Optional positive integer; draw only the first
            `max_units` units of each gate.
        cmap: Optional colormap name used for every gate instead of the
            defaults.
        figsize: Optional `(width, height)` in inches (default: grows with
            the number of gates and steps).
        title: Optional figure title (default: the layer name and the
            sequence index).

    Returns:
        A `matplotlib.figure.Figure` with one axes per requested gate; each
        holds an image of shape `(units, valid_time)`.

    Example:

    >>> import numpy as np
    >>> from toolkit.inspect import GateTrace, plot_gates
    >>> trace = GateTrace("rnn", {"hidden_state": np.zeros((1, 4, 3))})
    >>> figure = plot_gates(trace, sequence=0)
    >>> len(figure.axes)
    1
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter
    from matplotlib.ticker import MaxNLocator

    if not isinstance(trace, GateTrace):
        raise ValueError(
            "Argument `trace` expected a `toolkit.inspect.GateTrace` (a value of the "
            f"dict `trace_gates` returns). Received: trace={type(trace).__name__}"
        )
    if gates is None:
        gates = list(trace.gate_names)
    elif isinstance(gates, str):
        gates = [gates]
    else:
        gates = list(gates)
    unknown = [name for name in gates if name not in trace.gates]
    if not gates or unknown:
        raise ValueError(
            f"Argument `gates` expected one or more of {list(trace.gate_names)}. "
            f"Received: gates={gates!r}"
        )
    if max_units is not None and (
        isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer)) or max_units < 1
    ):
        raise ValueError(
            f"Argument `max_units` expected a positive integer or None. "
            f"Received: max_units={max_units!r}"
        )
    if isinstance(sequence, bool) or not isinstance(sequence, (int, np.integer)):
        raise ValueError(
            f"Argument `sequence` expected an integer. Received: sequence={sequence!r}"
        )
    if not -trace.batch_size <= sequence < trace.batch_size:
        raise ValueError(
            f"Argument `sequence` expected a position in a batch of {trace.batch_size} "
            f"sequence(s). Received: sequence={sequence}"
        )

    values = trace.sequence(sequence)
    positions = np.flatnonzero(trace.mask[sequence])
    if figsize is None:
        figsize = (min(4.0 + 0.25 * len(positions), 16.0), 1.0 + 1.9 * len(gates))
    figure = Figure(figsize=figsize, layout="constrained")
    axes = figure.subplots(len(gates), 1, squeeze=False, sharex=True)[:, 0]

    def time_label(x, _):
        column = int(round(x))
        if abs(x - column) > 1e-6 or not 0 <= column < len(positions):
            return ""
        return str(positions[column])

    for ax, name in zip(axes, gates):
        data = values[name]
        if max_units is not None:
            data = data[:, :max_units]
        ax.set_title(name, fontsize="medium", loc="left")
        ax.set_ylabel("unit")
        if data.size == 0:
            ax.text(0.5, 0.5, "no valid steps", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
            continue
        gate_cmap, vmin, vmax = _color_scale(name, data, cmap)
        image = ax.imshow(
            data.T,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            cmap=gate_cmap,
            vmin=vmin,
            vmax=vmax,
        )
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(time_label))
        colorbar_axes = ax.inset_axes([1.01, 0.0, 0.015, 1.0])
        figure.colorbar(image, cax=colorbar_axes)
    axes[-1].set_xlabel("time step")
    if title is None:
        title = f"{trace.layer_name} (sequence {sequence})"
    figure.suptitle(title)
    return figure


def _color_scale(name, data, cmap):
    low, high = float(np.min(data)), float(np.max(data))
    if name.endswith("_gate") and low >= 0.0 and high <= 1.0:
        return cmap or "viridis", 0.0, 1.0
    bound = max(abs(low), abs(high)) or 1.0
    return cmap or "RdBu_r", -bound, bound
