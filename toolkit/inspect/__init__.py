"""Inspection: the per-step gate values of a trained model, and their plots.

`trace_gates(model, inputs)` runs a model once in inference mode and returns
one `GateTrace` per toolkit recurrent layer; `plot_gates(trace)` draws one
sequence of a trace as heatmaps over time; `plot_attention(alignments)`
draws an attentional decoder's source x target alignments. Matplotlib is imported only when
a plot is drawn.
"""

from toolkit.inspect.alignments import plot_attention
from toolkit.inspect.plots import plot_gates
from toolkit.inspect.traces import GateTrace
from toolkit.inspect.traces import trace_gates

__all__ = ["GateTrace", "trace_gates", "plot_gates", "plot_attention"]
