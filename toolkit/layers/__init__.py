"""Sequence layers: the time loop, masks, state and the fast paths."""

from toolkit.layers.gru import GRU
from toolkit.layers.lstm import LSTM
from toolkit.layers.recurrent import Recurrent
from toolkit.layers.simple_rnn import SimpleRNN

__all__ = ["Recurrent", "LSTM", "GRU", "SimpleRNN"]
