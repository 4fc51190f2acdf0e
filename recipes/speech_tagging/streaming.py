"""Streaming: the library's `toolkit.models.StreamingTagger`, under its earlier name here.

A trained unidirectional tagger tags audio chunk by chunk; see
`toolkit/models/streaming.py`. The recipe's `StreamingTagger(tagger, config)`
form still works (the config is not needed: the `FrameTagger` holds it).
"""

from toolkit.models.streaming import StreamingTagger
from toolkit.models.streaming import stream

__all__ = ["StreamingTagger", "stream"]
