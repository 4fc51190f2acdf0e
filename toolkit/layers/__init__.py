"""Sequence layers: the time loop, masks, state and the fast paths.

`get(name)` returns the layer class for a cell name (`"simple"`, `"lstm"`,
`"gru"`, `"mgu"`, `"slstm"`, `"mingru"`, `"minlstm"`); `available()` lists
the names. MinGRU and MinLSTM train with a parallel scan over time
(`scan.py`), LSTM and GRU with fused loops on TensorFlow (`fused.py`), and
the LSTM with cuDNN's kernel on JAX with a GPU (`cudnn.py`).
"""

from toolkit.layers.gru import GRU
from toolkit.layers.lstm import LSTM
from toolkit.layers.mgu import MGU
from toolkit.layers.minimal import MinGRU
from toolkit.layers.minimal import MinLSTM
from toolkit.layers.names import available
from toolkit.layers.names import get
from toolkit.layers.recurrent import Recurrent
from toolkit.layers.simple_rnn import SimpleRNN
from toolkit.layers.slstm import sLSTM

__all__ = [
    "Recurrent",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "MGU",
    "sLSTM",
    "MinGRU",
    "MinLSTM",
    "get",
    "available",
]
