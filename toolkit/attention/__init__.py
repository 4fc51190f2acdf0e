"""Attention heads: additive, multiplicative, location-aware, pooling, and the
attentional decoder.

`get(name, units)` builds a mechanism from its short name (`"bahdanau"`,
`"luong-dot"`, `"luong-general"`, `"luong-concat"`, `"location"`);
`available()` lists the names.
"""

from toolkit.attention.bahdanau import BahdanauAttention
from toolkit.attention.base import AttentionMechanism
from toolkit.attention.decoder import AttentionDecoder
from toolkit.attention.decoder import AttentionDecoderCell
from toolkit.attention.location import LocationAwareAttention
from toolkit.attention.luong import LuongAttention
from toolkit.attention.names import available
from toolkit.attention.names import get
from toolkit.attention.pooling import AttentionPooling

__all__ = [
    "AttentionMechanism",
    "BahdanauAttention",
    "LuongAttention",
    "LocationAwareAttention",
    "AttentionPooling",
    "AttentionDecoderCell",
    "AttentionDecoder",
    "get",
    "available",
]
