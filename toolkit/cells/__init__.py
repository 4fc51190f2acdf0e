"""One time step of each recurrent cell: the math, nothing else."""

from toolkit.cells.base import RecurrentCell
from toolkit.cells.gru import GRUCell
from toolkit.cells.lstm import LSTMCell
from toolkit.cells.mgu import MGUCell
from toolkit.cells.minimal import MinGRUCell
from toolkit.cells.minimal import MinLSTMCell
from toolkit.cells.simple_rnn import SimpleRNNCell
from toolkit.cells.slstm import sLSTMCell

__all__ = [
    "RecurrentCell",
    "SimpleRNNCell",
    "LSTMCell",
    "GRUCell",
    "MGUCell",
    "sLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
]
