"""Greedy and beam search over any step function, in-graph."""

__all__ = []
