"""Losses for sequence models, and the layer a loss relies on.

* `LabelSmoothedCrossEntropy`: per-token cross-entropy from logits with label
  smoothing, 0 at the padding id (translation, any token-level tagger).
* `MaskedCTC` with `BlankPadding`: CTC over a padded batch from the targets
  and logits alone. `BlankPadding` is a layer, but it belongs with the loss:
  it is the model side of `MaskedCTC`'s contract (padded frames are certain
  blanks, so the loss needs no output lengths), and the two share the blank's
  index (`toolkit.losses.ctc.BLANK`, class 0).
"""

from toolkit.losses.ctc import BlankPadding
from toolkit.losses.ctc import MaskedCTC
from toolkit.losses.label_smoothing import LabelSmoothedCrossEntropy

__all__ = [
    "LabelSmoothedCrossEntropy",
    "MaskedCTC",
    "BlankPadding",
]
