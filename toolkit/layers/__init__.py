"""Sequence layers: the time loop, masks, state and the fast paths.

`get(name)` returns the layer class for a cell name (`"simple"`, `"lstm"`,
`"gru"`); `available()` lists the names.
"""

from toolkit.layers.gru import GRU
from toolkit.layers.lstm import LSTM
from toolkit.layers.names import available
from toolkit.layers.names import get
from toolkit.layers.recurrent import Recurrent
from toolkit.layers.simple_rnn import SimpleRNN

__all__ = ["Recurrent", "LSTM", "GRU", "SimpleRNN", "get", "available"]
