"""Shared machinery of the named sequence layers (`LSTM`, `GRU`, `SimpleRNN`).

A named layer is a `Recurrent` layer that builds its own cell from the
constructor arguments, so it takes Keras' flat argument list
(`toolkit.layers.LSTM(8, dropout=0.1, return_sequences=True)`) and has a flat
config. Cell options are read through the layer (`layer.units`,
`layer.peephole`) by one forwarding mechanism rather than a property each.
"""

import inspect

from toolkit.layers.recurrent import Recurrent

_CELL_IDENTITY_KEYS = ("name", "trainable", "dtype")


class CellLayer(Recurrent):
    """A `Recurrent` layer whose cell is built from its own arguments.

    Subclasses set `cell_class`. Every constructor argument that the cell
    accepts goes to the cell; the rest (`return_sequences`, `name`, ...) to
    the layer.
    """

    cell_class = None

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        fused="auto",
        **kwargs,
    ):
        cell_argument_names = self._cell_argument_names()
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in cell_argument_names}
        cell_kwargs.setdefault("dtype", kwargs.get("dtype"))
        cell = self.cell_class(units, **cell_kwargs)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            fused=fused,
            **kwargs,
        )

    @classmethod
    def _cell_argument_names(cls):
        parameters = inspect.signature(cls.cell_class.__init__).parameters
        return {
            name
            for name, parameter in parameters.items()
            if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        }

    def __getattr__(self, name):
        # Only reached when normal lookup fails. On the torch backend a layer is a
        # `torch.nn.Module`, which keeps sublayers (the cell) in `_modules` and finds
        # them in its own `__getattr__`: ask it first, then forward cell options.
        module_getattr = getattr(super(), "__getattr__", None)
        if module_getattr is not None:
            try:
                return module_getattr(name)
            except AttributeError:
                pass
        cell = self.__dict__.get("cell", self.__dict__.get("_modules", {}).get("cell"))
        if cell is not None and name in self._cell_argument_names():
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        config = self._loop_config()
        cell_config = self.cell.get_config()
        for key in _CELL_IDENTITY_KEYS:
            cell_config.pop(key, None)
        config.update(cell_config)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
