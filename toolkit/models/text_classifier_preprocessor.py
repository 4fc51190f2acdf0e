"""Raw strings -> padded token ids, in TensorFlow ops, for every backend."""

import weakref

import keras
import numpy as np

from toolkit.arguments import check_bool
from toolkit.arguments import check_positive_int
from toolkit.data.tokens import split_words_and_punctuation
from toolkit.models.presets import load_preprocessor_preset
from toolkit.models.presets import save_preprocessor_preset

PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"

# Each preprocessor's traced `tf.function` for eager calls, kept off the layer:
# as an attribute, TensorFlow's tracking would save it into SavedModels.
_EAGER_FUNCTIONS = weakref.WeakKeyDictionary()


def _check_vocabulary(vocabulary):
    if vocabulary is None:
        return None
    if isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, (list, tuple)):
        raise ValueError(
            "Argument `vocabulary` expected a list of token strings or None. "
            f"Received: vocabulary of type {type(vocabulary).__name__}"
        )
    vocabulary = [str(token) for token in vocabulary]
    if vocabulary[:2] == [PADDING_TOKEN, OOV_TOKEN]:
        vocabulary = vocabulary[2:]  # as `get_vocabulary()` returns it
    if not vocabulary or len(set(vocabulary)) != len(vocabulary) or PADDING_TOKEN in vocabulary:
        raise ValueError(
            "Argument `vocabulary` expected at least one token, distinct and non-empty. "
            f"Received: vocabulary={vocabulary[:20]!r}{' ...' if len(vocabulary) > 20 else ''}"
        )
    return vocabulary


def _as_string_batch(x):
    """`x` as a TensorFlow string tensor `(batch,)`, or a `ValueError` saying what it is."""
    import tensorflow as tf

    if isinstance(x, (str, bytes)):
        raise ValueError(
            "Argument `x` expected a batch of strings (a list, a NumPy array or a "
            f"string tensor of shape (batch,)). Received: the single string {x!r}; "
            "wrap it in a list"
        )
    if not isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        if isinstance(x, np.ndarray) and x.dtype.kind not in "USO":
            raise ValueError(
                f"Argument `x` expected strings. Received: an array of dtype {x.dtype}"
            )
        # Element by element: NumPy would turn `["good", 3]` into two strings.
        texts = np.asarray(x, dtype=object)
        for index, text in np.ndenumerate(texts):
            if not isinstance(text, (str, bytes)):
                raise ValueError(
                    "Argument `x` expected strings. "
                    f"Received: x[{', '.join(map(str, index))}]={text!r} "
                    f"of type {type(text).__name__}"
                )
        x = tf.constant(texts if texts.size else np.zeros(texts.shape, object), tf.string)
    if x.dtype != tf.string:
        raise ValueError(f"Argument `x` expected strings. Received: a tensor of dtype {x.dtype}")
    if x.shape.rank == 2 and x.shape[-1] == 1:
        x = tf.squeeze(x, axis=-1)  # (batch, 1), as TextVectorization accepts it
    if x.shape.rank is not None and x.shape.rank != 1:
        raise ValueError(
            "Argument `x` expected a batch of strings of shape (batch,). "
            f"Received: shape {tuple(x.shape)}"
        )
    return x


@keras.saving.register_keras_serializable(package="toolkit")
class TextClassifierPreprocessor(keras.layers.Layer):
    """Raw strings -> padded token ids for `toolkit.models.TextClassifier`.

    keras-hub's `TextClassifierPreprocessor` for recurrent models: it wraps a
    tokenizer, takes `(x, y, sample_weight)` and returns `token_ids` or
    `(token_ids, y[, sample_weight])` (`keras.utils.pack_x_y_sample_weight`),
    so it can be mapped over a `tf.data.Dataset` of `(texts, labels)`.
    Unlike keras-hub's, it pads each batch only to its longest text (rounded up
    to `pad_to_multiple_of`), not to a fixed `sequence_length`: a recurrent
    layer runs every padded step, and the padding is masked (id 0) anyway.
    No start or end tokens are added.

    The tokenizer is, by default, a `keras.layers.TextVectorization`:
    lower-cased (`lowercase=True`) text split by
    `toolkit.data.split_words_and_punctuation` (each punctuation mark is a
    token), id 0 for padding, id 1 for out-of-vocabulary tokens (`"[UNK]"`).
    Its vocabulary is given (`vocabulary=[...]`) or learnt with `adapt`.
    A keras-hub tokenizer (`keras_hub.tokenizers.WordPieceTokenizer`,
    `SentencePieceTokenizer`, `ByteTokenizer`, ...) or any layer mapping a
    string tensor `(batch,)` to token ids (ragged, or padded with 0) can be
    passed as `tokenizer` instead; its id 0 must be its padding token (a
    `[PAD]` first in a WordPiece vocabulary, SentencePiece's `pad_id=0`),
    since the model masks id 0.

    Everything runs as TensorFlow ops (inside `tf.data`, a `tf.function`, or
    eagerly), so the model it feeds can run on any backend. Called eagerly it
    returns a tensor of the active backend; traced, a TensorFlow tensor.
    Called on a symbolic `keras.Input(shape=(), dtype="string")` (TensorFlow
    backend), it builds a raw-string functional model.

    Args:
        vocabulary: Optional list of token strings, ids from 2 on (a list that
            starts with `""` and `"[UNK]"`, as `get_vocabulary()` returns it,
            is accepted too). Default `None`: learn it with `adapt`.
        max_tokens: Positive integer (default `20000`), the largest vocabulary
            `adapt` keeps, padding and `[UNK]` included.
        lowercase: Boolean (default `True`), lower-case texts first.
        tokenizer: Optional tokenizer layer used instead of the built-in
            vocabulary (default `None`); `vocabulary`, `max_tokens` and
            `lowercase` are then not used, and `vocabulary` must stay `None`.
        sequence_length: Optional positive integer (default `None`): keep at
            most this many tokens of each text, the first ones.
        pad_to_multiple_of: Optional positive integer (default `16`): the
            batch's length is rounded up to a multiple of it, so a JAX or XLA
            model compiles a few shapes only; `None` pads to the longest text.
            A batch is never shorter than one step, even if every text is
            empty. `sequence_length=n, pad_to_multiple_of=n` gives `(batch, n)`.
        **kwargs: Base layer arguments (`name`).

    Call arguments:
        x: Strings `(batch,)` (a list, a NumPy array, a `tf.string` tensor).
        y: Optional labels, returned unchanged.
        sample_weight: Optional weights, returned unchanged.

    Returns:
        int32 `token_ids` `(batch, time)`, 0 at padding; or
        `(token_ids, y)`, `(token_ids, y, sample_weight)` when given.

    Example:

    >>> import keras, toolkit
    >>> preprocessor = toolkit.models.TextClassifierPreprocessor(
    ...     vocabulary=["the", "cat", "sat", "."], pad_to_multiple_of=4)
    >>> ids = preprocessor(["The cat sat.", "The dog", ""])
    >>> keras.ops.convert_to_numpy(ids).tolist()
    [[2, 3, 4, 5], [2, 1, 0, 0], [0, 0, 0, 0]]
    >>> learnt = toolkit.models.TextClassifierPreprocessor()
    >>> learnt.adapt(["A cat, a dog.", "A dog!"])
    >>> learnt.get_vocabulary()[:4]  # most frequent first
    ['', '[UNK]', 'a', 'dog']
    >>> learnt.vocabulary_size()  # with cat , . !
    8
    """

    def __init__(
        self,
        vocabulary=None,
        max_tokens=20000,
        lowercase=True,
        tokenizer=None,
        sequence_length=None,
        pad_to_multiple_of=16,
        **kwargs,
    ):
        kwargs.pop("dtype", None)  # the outputs are int32 ids whatever the policy
        super().__init__(**kwargs)
        vocabulary = _check_vocabulary(vocabulary)
        self.max_tokens = check_positive_int("max_tokens", max_tokens)
        self.lowercase = check_bool("lowercase", lowercase)
        self.sequence_length = check_positive_int(
            "sequence_length", sequence_length, allow_none=True
        )
        self.pad_to_multiple_of = check_positive_int(
            "pad_to_multiple_of", pad_to_multiple_of, allow_none=True
        )
        if tokenizer is not None:
            if vocabulary is not None:
                raise ValueError(
                    "Arguments `vocabulary` and `tokenizer` expected one of the two, the "
                    "tokenizer has its own vocabulary. Received: both"
                )
            if not callable(tokenizer):
                raise ValueError(
                    "Argument `tokenizer` expected a layer mapping strings to token ids. "
                    f"Received: tokenizer of type {type(tokenizer).__name__}"
                )
            padding_id = getattr(tokenizer, "pad_token_id", None)
            if padding_id not in (None, 0):
                raise ValueError(
                    "Argument `tokenizer` expected a tokenizer whose padding id is 0 "
                    f"(the model masks id 0). Received: a tokenizer with pad_token_id={padding_id}"
                )
            self._builtin_vocabulary = False
        else:
            if self.max_tokens < 3:
                raise ValueError(
                    "Argument `max_tokens` expected at least 3 (padding, [UNK] and one "
                    f"token). Received: max_tokens={max_tokens!r}"
                )
            tokenizer = keras.layers.TextVectorization(
                max_tokens=self.max_tokens,
                standardize="lower" if self.lowercase else None,
                split=split_words_and_punctuation,
                output_mode="int",
                vocabulary=vocabulary,
                name="vectorizer",
            )
            self._builtin_vocabulary = True
        self.tokenizer = tokenizer
        self._has_vocabulary = vocabulary is not None
        self.built = True

    # === Vocabulary ===

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary from texts (the built-in tokenizer only).

        Keeps the `max_tokens - 2` most frequent tokens, most frequent first.

        Args:
            data: A list or array of strings, or a `tf.data.Dataset` of string
                batches.
            batch_size: Optional integer, for lists and arrays.
            steps: Optional integer, batches of a dataset to read.
        """
        if not self._builtin_vocabulary:
            raise ValueError(
                "`adapt` learns the built-in vocabulary; this preprocessor has a "
                f"tokenizer of its own ({type(self.tokenizer).__name__})"
            )
        import tensorflow as tf

        if not isinstance(data, tf.data.Dataset):
            data = _as_string_batch(data)
        self.tokenizer.adapt(data, batch_size=batch_size, steps=steps)
        self._has_vocabulary = self.tokenizer.vocabulary_size() > 2  # more than padding, [UNK]
        if not self._has_vocabulary:
            raise ValueError(
                "Argument `data` expected texts with at least one token to learn a "
                "vocabulary from. Received: texts without any"
            )

    def get_vocabulary(self):
        """The tokens by id: a list of strings (`""` and `"[UNK]"` first, built-in)."""
        return [str(token) for token in self.tokenizer.get_vocabulary()]

    def vocabulary_size(self):
        """The number of token ids, or `None` before the vocabulary is known.

        Returns:
            An integer, or `None` for a built-in vocabulary not yet learnt or
            a tokenizer whose vocabulary is not loaded yet.
        """
        if self._builtin_vocabulary:
            return int(self.tokenizer.vocabulary_size()) if self._has_vocabulary else None
        try:
            return int(self.tokenizer.vocabulary_size())
        except ValueError:  # keras-hub: "No vocabulary has been set ..."
            return None

    # === Calls ===

    def _token_ids(self, texts):
        """Graph-mode work: string tensor `(batch,)` -> int32 `(batch, time)`."""
        import tensorflow as tf

        ids = self.tokenizer(texts)
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=0)
        ids = tf.cast(ids, tf.int32)
        if self.sequence_length is not None:
            ids = ids[:, : self.sequence_length]
        length = tf.shape(ids)[1]
        multiple = self.pad_to_multiple_of or 1
        padded = tf.maximum(1, (length + multiple - 1) // multiple) * multiple
        ids = tf.pad(ids, [[0, 0], [0, padded - length]])
        return tf.ensure_shape(ids, [None, None])

    def call(self, x, y=None, sample_weight=None):
        # Reached when tracing (tf.data, tf.function, symbolic Keras inputs).
        return keras.utils.pack_x_y_sample_weight(self._token_ids(x), y, sample_weight)

    def __call__(self, x, y=None, sample_weight=None, **kwargs):
        # Strings cannot be backend tensors on JAX or PyTorch, so the layer's own
        # `__call__` (which converts its inputs) only builds symbolic models.
        # `kwargs`: call-context arguments a model passes on (`training`).
        if isinstance(x, keras.KerasTensor):
            return super().__call__(x, y=y, sample_weight=sample_weight)
        import tensorflow as tf

        texts = _as_string_batch(x)
        if self._builtin_vocabulary and not self._has_vocabulary:
            raise ValueError(
                "TextClassifierPreprocessor has no vocabulary yet: call "
                "`adapt(texts)` or pass `vocabulary=[...]`"
            )
        if not tf.executing_eagerly():  # in tf.data or a tf.function
            return self.call(texts, y, sample_weight)
        if self not in _EAGER_FUNCTIONS:
            # Traced once: eager calls of TextVectorization and of keras-hub
            # tokenizers return backend tensors or Python lists, not tf tensors.
            layer = weakref.ref(self)
            _EAGER_FUNCTIONS[self] = tf.function(
                lambda texts: layer()._token_ids(texts),
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        ids = _EAGER_FUNCTIONS[self](texts)
        if keras.backend.backend() != "tensorflow":
            ids = keras.ops.convert_to_tensor(ids.numpy())
        return keras.utils.pack_x_y_sample_weight(ids, y, sample_weight)

    def compute_output_spec(self, x, y=None, sample_weight=None):
        ids = keras.KerasTensor((x.shape[0], None), dtype="int32")
        return keras.utils.pack_x_y_sample_weight(ids, y, sample_weight)

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(
            {
                "sequence_length": self.sequence_length,
                "pad_to_multiple_of": self.pad_to_multiple_of,
            }
        )
        if self._builtin_vocabulary:
            config.update(
                {
                    "vocabulary": self.get_vocabulary() if self._has_vocabulary else None,
                    "max_tokens": self.max_tokens,
                    "lowercase": self.lowercase,
                }
            )
        else:
            config["tokenizer"] = keras.layers.serialize(self.tokenizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.layers.deserialize(config["tokenizer"])
        return cls(**config)

    # === Presets ===

    def save_to_preset(self, preset_dir):
        """Writes `preprocessor.json` (and tokenizer assets) into a preset folder.

        Args:
            preset_dir: Path of a local folder, created if missing.
        """
        save_preprocessor_preset(self, preset_dir)

    @classmethod
    def from_preset(cls, preset_dir, **kwargs):
        """The preprocessor saved in a preset folder.

        Args:
            preset_dir: Path of a local preset folder.
            **kwargs: Constructor arguments that replace the saved ones
                (`sequence_length`, `pad_to_multiple_of`).

        Returns:
            A `TextClassifierPreprocessor`.
        """
        return load_preprocessor_preset(cls, preset_dir, **kwargs)
