"""Attention heads: additive, multiplicative, location-aware, pooling, and the
attentional decoder."""

__all__ = []
