"""Placeholder protection: spans that must be copied verbatim, masked as `｟k｠`.

Software messages hold text that a translation must copy, not translate:
format specifiers (`%s`, `%1$s`, `%(name)s`, `{0}`, `$1`, `${VAR}`),
command-line options (`-l`, `--output=FILE`), numbers, URLs, e-mail
addresses and file paths. A subword model trained on a few thousand such
messages garbles them (`Copyright (C)99999-Takashi`). Placeholder masking,
as in OpenNMT-tf and Marian, replaces each such span of a source with a
numbered placeholder token, `｟0｠`, `｟1｠`, ... in order of appearance,
keeps the spans aside, lets the model translate the masked text (it learns
to copy the placeholders, which are single SentencePiece pieces), and puts
the source's spans back in place of the placeholders of the output.

One regular expression, `span_pattern(classes)`, finds the spans. It is
written in the common subset of Python's `re` (with `re.ASCII`) and RE2
(what `tf.strings.regex_replace` runs): no look-around, no back-references,
explicit ASCII classes instead of Unicode-dependent `\\w`, `\\d`, `\\s`;
`\\b` and `\\B` are ASCII word boundaries in both. Both engines pick the
leftmost match and, at one position, the first alternative that matches, so
both find the same spans.

`SpanProtection` masks and unmasks twice over, with the same results:

* in Python (`mask`, `unmask`), for the training pairs and for
  `translate_texts` / the dev and test decodes;
* with core TensorFlow string ops (`mask_tensor`, `unmask_tensor`), inside
  the exported SavedModel's `translate` signature.

Rules shared by both:

* A source's `k`-th span (from 0) becomes `｟k｠` for `k < max_placeholders`;
  later spans stay as text (the vocabulary has no piece for them). `spans`
  lists every span found, in order.
* The unit separator `\\x1f` is removed from the texts first: the
  TensorFlow version uses it to cut the matches out.
* Unmasking replaces each `｟k｠` of a translation with the `k`-th span of its
  source, and drops it when the source has no `k`-th span.

Training pairs (`mask(sources, targets)`) are masked differently: a source
span is masked only when the same text is also a span of the target (the
`i`-th occurrence of a text in the source pairs with its `i`-th occurrence in
the target), and both get the same number; the numbers count the masked
spans only. So the model sees a placeholder only where it must be copied.
Spans on one side only (`1.5` -> `1,5` is two number spans on each side, but
`Copy` -> `Kopie` is none) stay as text and are learnt as text.
"""

import collections
import dataclasses
import re
import typing

SEPARATOR = "\x1f"  # ASCII unit separator: cuts the matches out in the graph
OPEN, CLOSE = "\uff5f", "\uff60"  # ｟ ｠, OpenNMT's placeholder brackets
PLACEHOLDER_PATTERN = OPEN + "([0-9]{1,4})" + CLOSE
MAX_PLACEHOLDERS_LIMIT = 1000

# Characters no span may hold: whitespace, quotes and brackets around it, and
# the separator and placeholder brackets of this module.
_BREAK = (
    r" \t\n\r\f\v\x1f<>" + "\"'`\u201c\u201d\u201e\u201a\u2018\u2019\u00ab\u00bb" + OPEN + CLOSE
)
# Characters a URL may not end with (sentence punctuation after it).
_URL_END = _BREAK + r".,;:!?)\]}"
_SEGMENT = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"  # a file name: no trailing dot

# Each class is one alternative of the pattern; their order decides between
# alternatives that match at the same position.
SPAN_CLASSES = {
    # http://, https://, ftp://, file:// URLs and www. addresses.
    "urls": rf"\b(?:(?:https?|ftp|file)://|www\.)[^{_BREAK}]*[^{_URL_END}]",
    "emails": r"\b[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    # printf (C, Python %-style, Qt %1, Ruby %{name}, Objective-C %@), Python
    # and .NET braces, shell variables. No space flag: `50% done` is no `% d`.
    "formats": (
        r"%(?:\([A-Za-z_][A-Za-z0-9_]*\)|[0-9]+\$)?[-+#0]*(?:[0-9]+|\*)?"
        r"(?:\.(?:[0-9]+|\*))?(?:hh|ll|[hlLqjzt])?[diouxXeEfFgGaAcsrp@]"
        r"|%%|%[0-9]+|%\{[A-Za-z_][A-Za-z0-9_]*\}"
        r"|\{[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[A-Za-z0-9_]+\])*(?:![rsa])?"
        r"(?::[^{}\n]*)?\}"
        r"|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[0-9]+|\$[A-Za-z_][A-Za-z0-9_]*"
    ),
    # -l, -rf, --verbose, --dry-run, --output=FILE; not the hyphen of a word
    # (`e-mail`): the dash must follow a non-word character or the start.
    "options": (
        r"\B--?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
        r"(?:=[A-Za-z0-9_/:@%-]+(?:\.[A-Za-z0-9_/:@%-]+)*)?"
    ),
    # /usr/share/doc, ~/.config/app, ./configure, ../lib, C:\Windows\Temp;
    # not `and/or` (the slash must follow a non-word character or the start).
    "paths": (
        rf"(?:\B/|~/|\.\.?/)\.?{_SEGMENT}(?:/\.?{_SEGMENT})*/?"
        rf"|\b[A-Za-z]:(?:\\\.?{_SEGMENT})+\\?"
    ),
    # Integers: `1.5` is two spans, so the model learns `1,5` for German.
    "numbers": r"\b[0-9]+\b",
    # HTML/XML tags and character references; off by default: attributes
    # such as title="..." hold text to translate.
    "markup": (
        r"</?[A-Za-z][A-Za-z0-9:-]*(?:[ \t]+[^<>]*)?/?>|&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);"
    ),
}
DEFAULT_SPAN_CLASSES = ("urls", "emails", "formats", "options", "paths", "numbers")


def _check_options(classes, max_placeholders, classes_name, count_name, error=ValueError):
    unknown = [name for name in classes if name not in SPAN_CLASSES]
    if unknown or not classes:
        raise error(
            f"{classes_name} expected one or more of {list(SPAN_CLASSES)}. "
            f"Received: {list(classes)!r}"
        )
    valid = isinstance(max_placeholders, int) and not isinstance(max_placeholders, bool)
    if not (valid and 1 <= max_placeholders <= MAX_PLACEHOLDERS_LIMIT):
        raise error(
            f"{count_name} expected an integer in [1, {MAX_PLACEHOLDERS_LIMIT}]. "
            f"Received: {max_placeholders!r}"
        )


def span_pattern(classes=DEFAULT_SPAN_CLASSES):
    """The one regular expression of the spans of `classes` (Python `re` and RE2).

    Args:
        classes: Names of `SPAN_CLASSES`, in any order; the pattern tries
            them in the order of `SPAN_CLASSES`.

    Returns:
        The pattern as a string. Use it with `re.ASCII` in Python.
    """
    _check_options(classes, 1, "Argument `classes`", "")
    return "|".join(f"(?:{SPAN_CLASSES[name]})" for name in SPAN_CLASSES if name in classes)


def placeholder(index):
    """The placeholder token of span `index`: `｟index｠`."""
    return f"{OPEN}{index}{CLOSE}"


def placeholder_symbols(count):
    """`[｟0｠, ..., ｟count-1｠]`: SentencePiece's `user_defined_symbols`."""
    return [placeholder(index) for index in range(count)]


class MaskedTexts(typing.NamedTuple):
    """What `SpanProtection.mask` returns.

    Attributes:
        sources: List of masked source strings.
        targets: List of masked target strings (`None` when no targets were given).
        spans: One list of span strings per source: `spans[i][k]` is what
            `｟k｠` stands for in pair `i`.
    """

    sources: list
    targets: list | None
    spans: list


class SpanProtection:
    """Masks protected spans with numbered placeholders and puts them back.

    Args:
        classes: Names of `SPAN_CLASSES` to protect. Defaults to
            `DEFAULT_SPAN_CLASSES` (all but `markup`).
        max_placeholders: Integer, how many placeholders the vocabularies
            hold (`｟0｠` to `｟max_placeholders-1｠`). Defaults to 16.

    Example:

    >>> protection = SpanProtection()
    >>> masked = protection.mask(["Use --all to list %d files."])
    >>> masked.sources, masked.spans
    (['Use ｟0｠ to list ｟1｠ files.'], [['--all', '%d']])
    >>> protection.unmask(["Mit ｟0｠ ｟1｠ Dateien auflisten."], masked.spans)
    ['Mit --all %d Dateien auflisten.']
    """

    def __init__(self, classes=DEFAULT_SPAN_CLASSES, max_placeholders=16):
        classes = tuple(classes)
        _check_options(
            classes, max_placeholders, "Argument `classes`", "Argument `max_placeholders`"
        )
        self.pattern = span_pattern(classes)
        self.classes = classes
        self.max_placeholders = max_placeholders
        self._regex = re.compile(self.pattern, re.ASCII)
        self._placeholder_regex = re.compile(PLACEHOLDER_PATTERN, re.ASCII)

    @classmethod
    def from_config(cls, config):
        """The protection a recipe config asks for, or `None` (`protect` false).

        A config without `protect` (a run folder of an older version) gets
        `None`.
        """
        if not getattr(config, "protect", False):
            return None
        return cls.of_config_classes(config)

    @classmethod
    def of_config_classes(cls, config):
        """The protection of a config's `protected_spans`, even where `protect` is false.

        What `scoring.span_copies` finds spans with, so that runs with and
        without protection are measured alike.

        Raises:
            ConfigError: unknown span classes, or `max_placeholders` out of range.
        """
        from recipes.runner import ConfigError

        classes = tuple(config.protected_spans)
        _check_options(
            classes,
            config.max_placeholders,
            "Config key `protected_spans`",
            "Config key `max_placeholders`",
            ConfigError,
        )
        return cls(classes, config.max_placeholders)

    def symbols(self):
        """The placeholder pieces the tokenizers must hold."""
        return placeholder_symbols(self.max_placeholders)

    # === Python ===

    def find(self, text):
        """The protected spans of one string, in order (a list of strings)."""
        return self._regex.findall(text.replace(SEPARATOR, ""))

    def mask(self, sources, targets=None):
        """Replaces protected spans with placeholders.

        Args:
            sources: Sequence of strings.
            targets: Optional sequence of strings, one per source: masks
                training pairs (only spans on both sides, see the module
                docstring).

        Returns:
            A `MaskedTexts` `(sources, targets, spans)`.
        """
        sources = list(sources)
        if targets is None:
            masked = [self._mask_source(text) for text in sources]
            return MaskedTexts([text for text, _ in masked], None, [spans for _, spans in masked])
        targets = list(targets)
        if len(targets) != len(sources):
            raise ValueError(
                "Argument `targets` expected one string per source "
                f"({len(sources)}). Received: {len(targets)} strings"
            )
        masked = [self._mask_pair(source, target) for source, target in zip(sources, targets)]
        return MaskedTexts(
            [source for source, _, _ in masked],
            [target for _, target, _ in masked],
            [spans for _, _, spans in masked],
        )

    def unmask(self, translations, spans):
        """Puts the spans back in place of the placeholders of `translations`.

        Args:
            translations: Sequence of strings.
            spans: One sequence of span strings per translation (`mask`'s).

        Returns:
            List of strings: `｟k｠` replaced with `spans[i][k]`, or removed
            where the source has no span `k`.
        """
        translations = list(translations)
        if len(spans) != len(translations):
            raise ValueError(
                "Argument `spans` expected one list per translation "
                f"({len(translations)}). Received: {len(spans)} lists"
            )
        return [
            self._placeholder_regex.sub(
                lambda match, row=row: (
                    row[int(match.group(1))] if int(match.group(1)) < len(row) else ""
                ),
                text.replace(SEPARATOR, ""),
            )
            for text, row in zip(translations, spans)
        ]

    def _mask_source(self, text):
        spans = []

        def replace(match):
            index = len(spans)
            spans.append(match.group())
            return placeholder(index) if index < self.max_placeholders else match.group()

        return self._regex.sub(replace, text.replace(SEPARATOR, "")), spans

    def _mask_pair(self, source, target):
        source, target = source.replace(SEPARATOR, ""), target.replace(SEPARATOR, "")
        available = collections.Counter(self._regex.findall(target))
        numbers = collections.defaultdict(collections.deque)  # span text -> its placeholders
        spans = []

        def replace_in_source(match):
            span = match.group()
            if available[span] <= 0 or len(spans) >= self.max_placeholders:
                return span
            available[span] -= 1
            numbers[span].append(len(spans))
            spans.append(span)
            return placeholder(len(spans) - 1)

        def replace_in_target(match):
            queue = numbers.get(match.group())
            return placeholder(queue.popleft()) if queue else match.group()

        masked_source = self._regex.sub(replace_in_source, source)
        return masked_source, self._regex.sub(replace_in_target, target), spans

    # === TensorFlow ===

    def mask_tensor(self, sources):
        """`mask(sources)` with TensorFlow string ops (for the SavedModel graph).

        Each match is wrapped in separators by `regex_replace`, so splitting
        at the separator gives `[text, span, text, span, ..., text]`: the
        spans are the odd pieces, numbered by their position.

        Args:
            sources: String tensor `(batch,)`.

        Returns:
            `(masked, spans)`: a string tensor `(batch,)` and a string
            `RaggedTensor` `(batch, None)`.
        """
        import tensorflow as tf

        texts = tf.strings.regex_replace(sources, SEPARATOR, "")
        marked = tf.strings.regex_replace(texts, self.pattern, SEPARATOR + "\\0" + SEPARATOR)
        pieces = tf.strings.split(marked, SEPARATOR)
        position = tf.ragged.range(pieces.row_lengths()).flat_values
        is_span = tf.equal(position % 2, 1)
        index = position // 2
        tokens = tf.strings.join([OPEN, tf.strings.as_string(index), CLOSE])
        masked_pieces = tf.where(
            is_span & (index < self.max_placeholders), tokens, pieces.flat_values
        )
        masked = tf.strings.reduce_join(pieces.with_flat_values(masked_pieces), axis=-1)
        return masked, tf.ragged.boolean_mask(pieces, pieces.with_flat_values(is_span))

    def unmask_tensor(self, translations, spans):
        """`unmask(translations, spans)` with TensorFlow string ops.

        Args:
            translations: String tensor `(batch,)`.
            spans: String `RaggedTensor` `(batch, None)`, `mask_tensor`'s.

        Returns:
            String tensor `(batch,)`.
        """
        import tensorflow as tf

        texts = tf.strings.regex_replace(translations, SEPARATOR, "")
        marked = tf.strings.regex_replace(texts, PLACEHOLDER_PATTERN, SEPARATOR + "\\0" + SEPARATOR)
        pieces = tf.strings.split(marked, SEPARATOR)
        flat_pieces = pieces.flat_values
        is_placeholder = tf.equal(tf.ragged.range(pieces.row_lengths()).flat_values % 2, 1)
        digits = tf.strings.regex_replace(flat_pieces, f"[{OPEN}{CLOSE}]", "")
        index = tf.strings.to_number(tf.where(is_placeholder, digits, "0"), tf.int64)
        row = pieces.value_rowids()
        spans = tf.cast(spans, tf.string)
        available = tf.gather(spans.row_lengths(), row)
        found = is_placeholder & (index < available)
        # Row `row`'s span `index` in the flat spans; one "" past the end for the rest.
        flat_spans = tf.concat([spans.flat_values, [""]], axis=0)
        missing = tf.shape(spans.flat_values, out_type=tf.int64)[0]
        where = tf.where(found, tf.gather(spans.row_starts(), row) + index, missing)
        restored = tf.where(is_placeholder, tf.gather(flat_spans, where), flat_pieces)
        return tf.strings.reduce_join(pieces.with_flat_values(restored), axis=-1)


def masked_pairs(pairs, protection):
    """A `ParallelTexts` split with its pairs masked (`pairs` itself if `protection` is None)."""
    if protection is None:
        return pairs
    masked = protection.mask(pairs.sources, pairs.targets)
    return dataclasses.replace(pairs, sources=masked.sources, targets=masked.targets)
