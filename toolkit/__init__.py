"""A Keras 3 toolkit for gated recurrent sequence models."""

from toolkit import attention
from toolkit import cells
from toolkit import data
from toolkit import decoding
from toolkit import export
from toolkit import features
from toolkit import inspect
from toolkit import layers
from toolkit import losses
from toolkit import models
from toolkit import runtime

__version__ = "0.1.0"

__all__ = [
    "cells",
    "layers",
    "losses",
    "attention",
    "decoding",
    "data",
    "inspect",
    "models",
    "features",
    "runtime",
    "export",
    "__version__",
]
