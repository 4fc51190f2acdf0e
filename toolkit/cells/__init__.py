"""One time step of each recurrent cell: the math, nothing else."""

from toolkit.cells.base import RecurrentCell
from toolkit.cells.gru import GRUCell
from toolkit.cells.lstm import LSTMCell
from toolkit.cells.simple_rnn import SimpleRNNCell

__all__ = ["RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell"]
