"""One lookup from an attention mechanism's short name to the mechanism.

Recipes and configs choose the attention by name (`attention: bahdanau`);
`toolkit.attention.get(name, units)` is the one place that knows the names,
so every recipe accepts the same ones and a new mechanism becomes selectable
everywhere when it is added here. `"none"` (no attention) is the callers'
business: what a model does without attention is not a mechanism.
"""

from toolkit.attention.bahdanau import BahdanauAttention
from toolkit.attention.location import LocationAwareAttention
from toolkit.attention.luong import LuongAttention

# name -> (class, the arguments the name fixes, whether `units` is the mechanism's own depth)
MECHANISMS_BY_NAME = {
    "bahdanau": (BahdanauAttention, {}, True),
    "luong-dot": (LuongAttention, {"score": "dot"}, False),
    "luong-general": (LuongAttention, {"score": "general"}, False),
    "luong-concat": (LuongAttention, {"score": "concat"}, True),
    "location": (LocationAwareAttention, {}, True),
}
# Earlier names still accepted: the speech recipe's `luong` was Luong's general score.
ALIASES = {"luong": "luong-general"}


def available():
    """The attention names `get` accepts, in the order they were added.

    Returns:
        A tuple of strings: `("bahdanau", "luong-dot", "luong-general",
        "luong-concat", "location")`. `get` also accepts `"luong"`, an
        earlier name of `"luong-general"`.

    Example:

    >>> available()
    ('bahdanau', 'luong-dot', 'luong-general', 'luong-concat', 'location')
    """
    return tuple(MECHANISMS_BY_NAME)


def get(name, /, units=None, **kwargs):
    """A new attention mechanism of the named kind.

    | name | mechanism |
    | --- | --- |
    | `"bahdanau"` | `BahdanauAttention(units)`: additive score |
    | `"luong-dot"` | `LuongAttention(score="dot")`: `q^T h` |
    | `"luong-general"` (or `"luong"`) | `LuongAttention(score="general")`: `q^T W h` |
    | `"luong-concat"` | `LuongAttention(units, score="concat")` |
    | `"location"` | `LocationAwareAttention(units)`: needs previous alignments |

    Args:
        name: String, one of `available()`, or the alias `"luong"`
            (`"luong-general"`). Case-insensitive; surrounding whitespace is
            ignored. Positional only: `name=` is the layer's name, passed on
            with `**kwargs`.
        units: Positive integer or `None` (default), the attention depth of
            the mechanisms that have one (`"bahdanau"`, `"luong-concat"`,
            `"location"`: required there). `"luong-dot"` and
            `"luong-general"` score in the query's own space, whose size the
            inputs fix, so they do not use it: one call serves every name.
        **kwargs: Further arguments of the mechanism's class (`name`,
            `normalize`, `scale`, `filters`, `kernel_initializer`, ...), but
            not one the name fixes (`score`).

    Returns:
        A new, unbuilt `AttentionMechanism` layer.

    Raises:
        ValueError: an unknown name or a non-string (listing the known
            names), or an argument the name fixes.

    Example:

    >>> import numpy as np
    >>> attention = get("luong-general", units=16, name="attention")
    >>> type(attention).__name__, attention.score, attention.units
    ('LuongAttention', 'general', None)
    >>> get("bahdanau", 8, normalize=True).normalize
    True
    >>> query, memory = np.zeros((2, 5), "float32"), np.ones((2, 7, 3), "float32")
    >>> context, alignments = attention(query, memory)
    >>> tuple(context.shape), tuple(alignments.shape)
    ((2, 3), (2, 7))
    """
    key = name.strip().lower() if isinstance(name, str) else None
    key = ALIASES.get(key, key)
    if key not in MECHANISMS_BY_NAME:
        raise ValueError(
            f"Argument `name` expected one of {list(MECHANISMS_BY_NAME)}. Received: name={name!r}"
        )
    cls, fixed, has_units = MECHANISMS_BY_NAME[key]
    for argument, value in fixed.items():
        if argument in kwargs:
            raise ValueError(
                f"Argument `{argument}` is set by the attention name: {key!r} is "
                f"{argument}={value!r}. Received: {argument}={kwargs[argument]!r}"
            )
    if has_units:
        kwargs["units"] = units
    return cls(**fixed, **kwargs)
