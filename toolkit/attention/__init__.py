"""Attention heads: additive, multiplicative, location-aware, pooling, and the
attentional decoder."""

from toolkit.attention.bahdanau import BahdanauAttention
from toolkit.attention.base import AttentionMechanism
from toolkit.attention.decoder import AttentionDecoder
from toolkit.attention.decoder import AttentionDecoderCell
from toolkit.attention.location import LocationAwareAttention
from toolkit.attention.luong import LuongAttention
from toolkit.attention.pooling import AttentionPooling

__all__ = [
    "AttentionMechanism",
    "BahdanauAttention",
    "LuongAttention",
    "LocationAwareAttention",
    "AttentionPooling",
    "AttentionDecoderCell",
    "AttentionDecoder",
]
