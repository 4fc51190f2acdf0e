"""Greedy and beam search over any step function, in-graph.

`greedy_search` and `beam_search` drive a `step_fn(tokens, state) ->
(logits, new_state)` with any nested state inside one `keras.ops.while_loop`
(TensorFlow graphs and SavedModels, `jax.jit`). Beam search has the GNMT
length penalty, frozen finished beams, n-best output and alignments along
each hypothesis' ancestry. `tile_batch` lays a batch out as beams.
"""

from toolkit.decoding.beams import tile_batch
from toolkit.decoding.search import beam_search
from toolkit.decoding.search import greedy_search

__all__ = ["tile_batch", "greedy_search", "beam_search"]
