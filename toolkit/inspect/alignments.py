"""Heatmaps of attention alignments: source x target."""

import numpy as np


def plot_attention(
    alignments,
    source_tokens=None,
    target_tokens=None,
    source_length=None,
    target_length=None,
    cmap="viridis",
    figsize=None,
    title=None,
):
    """Draws one example's attention alignments as a source x target heatmap.

    Rows are target steps (top to bottom), columns source steps (left to
    right), as in the figures of Bahdanau et al. (2014); each cell is the
    weight target step `i` gave source step `j`, on a fixed `[0, 1]` scale.
    The figure is a `matplotlib.figure.Figure` (no `pyplot`, works with any
    backend); save it with `figure.savefig(path)` or show it in a notebook.

    Padding is cut off: the heatmap keeps the first `len(source_tokens)`
    (or `source_length`) columns and the first `len(target_tokens)` (or
    `target_length`) rows.

    Args:
        alignments: Array-like `(target_time, memory_time)`, one example of
            `AttentionDecoder(..., return_alignments=True)`'s output, or of
            the `"alignments"` a beam search returns.
        source_tokens: Optional list of strings labelling the columns.
        target_tokens: Optional list of strings labelling the rows.
        source_length: Optional integer, number of columns to keep when no
            `source_tokens` are given.
        target_length: Optional integer, number of rows to keep when no
            `target_tokens` are given.
        cmap: Colormap name (default `"viridis"`).
        figsize: Optional `(width, height)` in inches (default: grows with
            the number of steps).
        title: Optional figure title.

    Returns:
        A `matplotlib.figure.Figure` with one heatmap axes (and a colorbar
        inset); its image holds the `(target, source)` array drawn.

    Example:

    >>> import numpy as np
    >>> from toolkit.inspect import plot_attention
    >>> weights = np.full((3, 4), 0.25)
    >>> figure = plot_attention(weights, source_tokens=["le", "chat", "noir", "</s>"])
    >>> figure.axes[0].images[0].get_array().shape
    (3, 4)
    """
    from matplotlib.figure import Figure

    values = np.asarray(alignments, dtype="float32")
    if values.ndim != 2:
        raise ValueError(
            "Argument `alignments` expected one example of shape "
            f"(target_time, memory_time). Received: alignments.shape={values.shape}"
        )
    target_steps, source_steps = values.shape
    columns = _kept_length("source", source_tokens, source_length, source_steps)
    rows = _kept_length("target", target_tokens, target_length, target_steps)
    values = values[:rows, :columns]
    if figsize is None:
        figsize = (min(2.5 + 0.4 * columns, 16.0), min(2.0 + 0.35 * rows, 16.0))
    figure = Figure(figsize=figsize, layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    if source_tokens is not None:
        ax.set_xticks(range(columns), [str(token) for token in source_tokens], rotation=90)
    if target_tokens is not None:
        ax.set_yticks(range(rows), [str(token) for token in target_tokens])
    colorbar_axes = ax.inset_axes([1.02, 0.0, 0.03, 1.0])
    figure.colorbar(image, cax=colorbar_axes)
    if title is not None:
        figure.suptitle(title)
    return figure


def _kept_length(side, tokens, length, available):
    if tokens is not None and length is not None:
        raise ValueError(
            f"Give either `{side}_tokens` or `{side}_length`, not both. Received: "
            f"{side}_tokens={tokens!r}, {side}_length={length!r}"
        )
    if tokens is not None:
        if isinstance(tokens, str):
            raise ValueError(
                f"Argument `{side}_tokens` expected a list of tokens. Received: "
                f"{side}_tokens={tokens!r}"
            )
        length = len(tokens)
        name = f"len({side}_tokens)"
    elif length is None:
        return available
    else:
        name = f"{side}_length"
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(
                f"Argument `{side}_length` expected a positive integer. Received: "
                f"{side}_length={length!r}"
            )
    if not 1 <= length <= available:
        raise ValueError(
            f"Argument `{side}_{'tokens' if tokens is not None else 'length'}` asks for "
            f"{length} {side} steps but the alignments have {available}. Received: "
            f"{name}={length}"
        )
    return int(length)
