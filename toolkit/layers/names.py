"""One lookup from a cell's short name to the toolkit sequence layer running it.

Recipes, benchmarks and configs choose the recurrent layer by name
(`cell: gru`); `toolkit.layers.get(name)` is the one place that knows the
names, so a new cell becomes selectable everywhere when it is added here.
"""

from toolkit.layers.gru import GRU
from toolkit.layers.lstm import LSTM
from toolkit.layers.mgu import MGU
from toolkit.layers.minimal import MinGRU
from toolkit.layers.minimal import MinLSTM
from toolkit.layers.simple_rnn import SimpleRNN
from toolkit.layers.slstm import sLSTM

LAYERS_BY_NAME = {
    "simple": SimpleRNN,
    "lstm": LSTM,
    "gru": GRU,
    "mgu": MGU,
    "slstm": sLSTM,
    "mingru": MinGRU,
    "minlstm": MinLSTM,
}


def available():
    """The cell names `get` accepts, in the order they were added.

    Returns:
        A tuple of strings, e.g. `("simple", "lstm", "gru", "mgu", "slstm",
        "mingru", "minlstm")`.

    Example:

    >>> available()
    ('simple', 'lstm', 'gru', 'mgu', 'slstm', 'mingru', 'minlstm')
    """
    return tuple(LAYERS_BY_NAME)


def get(name):
    """The toolkit sequence layer class for a cell name.

    Args:
        name: String, one of `available()`: `"simple"` (`SimpleRNN`),
            `"lstm"` (`LSTM`), `"gru"` (`GRU`), `"mgu"` (`MGU`), `"slstm"`
            (`sLSTM`), `"mingru"` (`MinGRU`) or `"minlstm"` (`MinLSTM`). Case-insensitive;
            surrounding whitespace is ignored.

    Returns:
        The layer class; call it with the layer's arguments
        (`get("gru")(64, return_sequences=True)`).

    Raises:
        ValueError: an unknown name or a non-string, listing the known names.

    Example:

    >>> layer = get("gru")(8, return_sequences=True)
    >>> type(layer).__name__, layer.units
    ('GRU', 8)
    >>> get("LSTM").__name__
    'LSTM'
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in LAYERS_BY_NAME:
        raise ValueError(
            f"Argument `name` expected one of {list(LAYERS_BY_NAME)}. Received: name={name!r}"
        )
    return LAYERS_BY_NAME[key]
