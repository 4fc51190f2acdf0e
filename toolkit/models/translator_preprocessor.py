"""Sentence pairs -> teacher-forcing token ids, and token ids -> text, in TensorFlow ops."""

import base64
import weakref

import keras
import numpy as np

from toolkit.arguments import check_positive_int
from toolkit.models.presets import load_preprocessor_preset
from toolkit.models.presets import save_preprocessor_preset
from toolkit.models.sentencepiece import BOS_ID
from toolkit.models.sentencepiece import EOS_ID
from toolkit.models.sentencepiece import PAD_ID
from toolkit.models.sentencepiece import tokenizer_from_proto
from toolkit.models.sentencepiece import train_tokenizer
from toolkit.models.text_classifier_preprocessor import _as_string_batch

# Each preprocessor's traced `tf.function`s for eager calls and its target
# pieces, kept off the layer (TensorFlow's tracking would save them).
_EAGER_FUNCTIONS = weakref.WeakKeyDictionary()
_TARGET_PIECES = weakref.WeakKeyDictionary()


def _check_tokenizer(name, tokenizer):
    proto = getattr(tokenizer, "proto", None)
    if not isinstance(proto, bytes):
        raise ValueError(
            f"Argument `{name}` expected a `keras_hub.tokenizers.SentencePieceTokenizer` "
            f"with its model (ids 0 pad, 1 unk, 2 bos, 3 eos; see "
            f"`TranslatorPreprocessor.from_texts`). Received: {name} of type "
            f"{type(tokenizer).__name__}"
        )
    for token_id, expected in ((PAD_ID, "<pad>"), (BOS_ID, "<s>"), (EOS_ID, "</s>")):
        if tokenizer.id_to_token(token_id) != expected:
            raise ValueError(
                f"Argument `{name}` expected a SentencePiece model with id {token_id} = "
                f"{expected!r} (ids 0 pad, 1 unk, 2 bos, 3 eos). Received: id {token_id} = "
                f"{tokenizer.id_to_token(token_id)!r}"
            )
    return tokenizer


def _pad_ids(ids, multiple):
    """Dense int32 `(batch, time)`, 0-padded to a multiple of `multiple` (at least one)."""
    import tensorflow as tf

    if isinstance(ids, tf.RaggedTensor):
        ids = ids.to_tensor(default_value=PAD_ID)
    ids = tf.cast(ids, tf.int32)
    multiple = multiple or 1
    length = tf.shape(ids)[1]
    padded = tf.maximum((length + multiple - 1) // multiple * multiple, multiple)
    ids = tf.pad(ids, [[0, 0], [0, padded - length]])
    return tf.ensure_shape(ids, [None, None])


def target_pieces(tokenizer):
    """A SentencePiece tokenizer's pieces as a string tensor, for `detokenize_pieces`.

    A byte piece of `byte_fallback` (`<0xE4>`) stands for its one byte, so
    joining pieces rebuilds the UTF-8 text of characters spelled in bytes.
    """
    import sentencepiece
    import tensorflow as tf

    processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.proto)
    pieces = [
        bytes([int(piece[3:5], 16)]) if processor.IsByte(index) else str(piece).encode("utf-8")
        for index, piece in enumerate(tokenizer.get_vocabulary())
    ]
    return tf.constant(pieces, tf.string)


def detokenize_pieces(pieces, token_ids):
    """Plain strings `(batch,)` of token ids `(batch, time)`: control ids dropped.

    SentencePiece text is its pieces joined with `▁` turned back into spaces.
    Plain string ops rather than the tokenizer's detokenizer on purpose: a
    SavedModel holding two SentencePiece tokenizers restores both with the
    first one's model (tensorflow-text's kernel-owned resources), so an
    export may hold only the source tokenizer.
    """
    import tensorflow as tf

    token_ids = tf.convert_to_tensor(token_ids, tf.int32)
    kept = tf.ragged.boolean_mask(token_ids, token_ids > EOS_ID)
    text = tf.strings.reduce_join(tf.gather(pieces, kept), axis=-1)
    return tf.strings.strip(tf.strings.regex_replace(text, "\u2581", " "))


def strings_of(tensor):
    """Python strings of a string tensor; bytes cut inside a character are replaced."""
    values = tensor.numpy().tolist() if hasattr(tensor, "numpy") else list(tensor)
    return [
        value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
        for value in values
    ]


@keras.saving.register_keras_serializable(package="toolkit")
class TranslatorPreprocessor(keras.layers.Layer):
    """Sentence pairs -> teacher-forcing token ids for `toolkit.models.Translator`.

    keras-hub's `Seq2SeqLMPreprocessor` for a recurrent encoder-decoder: it
    holds a source and a target `keras_hub.tokenizers.SentencePieceTokenizer`
    (ids 0 padding, 1 unknown, 2 start `<s>`, 3 end `</s>`; learn both from
    texts with `TranslatorPreprocessor.from_texts`) and maps
    `(sources, targets)` to `((source_ids, decoder_input_ids), target_ids)`:

    ```
    source_ids         x1 .. xm            (no start or end token)
    decoder_input_ids  <s> y1 .. yn
    target_ids         y1 .. yn </s>
    ```

    each padded with 0 to the batch's longest row rounded up to
    `pad_to_multiple_of` (few shapes to compile; a recurrent layer runs every
    padded step), never fewer than one multiple. Everything runs as
    TensorFlow ops: mapped over a `tf.data.Dataset` it feeds a model on any
    backend. `detokenize` turns target ids back into text (control ids
    dropped). The tokenizers' models are in the config, so `.keras` files and
    presets hold them. Seed (`keras.utils.set_random_seed`) before making
    one, not after: on TensorFlow, seeding clears the eager kernel cache,
    which owns the SentencePiece models' resources.

    Args:
        source_tokenizer: The source side's `SentencePieceTokenizer`.
        target_tokenizer: The target side's `SentencePieceTokenizer`.
        max_length: Optional positive integer (default `None`): training
            pairs are cut to this many tokens a side (the target's `</s>` or
            `<s>` included). Translation reads whole sources.
        pad_to_multiple_of: Positive integer (default `8`).
        **kwargs: Base layer arguments (`name`).

    Call arguments:
        x: Source strings `(batch,)`.
        y: Optional target strings `(batch,)`.
        sample_weight: Optional weights, returned unchanged.

    Returns:
        int32 `source_ids` `(batch, time)` without `y`; with it,
        `((source_ids, decoder_input_ids), target_ids[, sample_weight])`.

    Example:

    >>> import keras, toolkit
    >>> sources = ["a cat", "a dog", "the cat sat", "the dog sat"] * 4
    >>> targets = ["un gato", "un perro", "el gato se sentó", "el perro se sentó"] * 4
    >>> preprocessor = toolkit.models.TranslatorPreprocessor.from_texts(
    ...     sources, targets, source_vocabulary_size=20, target_vocabulary_size=20,
    ...     pad_to_multiple_of=4)
    >>> (source_ids, decoder_inputs), target_ids = preprocessor(["a cat"], ["un gato"])
    >>> int(keras.ops.convert_to_numpy(decoder_inputs)[0, 0]), keras.ops.shape(target_ids)
    (2, (1, 8))
    >>> preprocessor.detokenize(target_ids)
    ['un gato']
    """

    def __init__(
        self,
        source_tokenizer,
        target_tokenizer,
        max_length=None,
        pad_to_multiple_of=8,
        **kwargs,
    ):
        kwargs.pop("dtype", None)  # the outputs are int32 ids whatever the policy
        super().__init__(**kwargs)
        self.source_tokenizer = _check_tokenizer("source_tokenizer", source_tokenizer)
        self.target_tokenizer = _check_tokenizer("target_tokenizer", target_tokenizer)
        self.max_length = check_positive_int("max_length", max_length, allow_none=True)
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(
                "Argument `max_length` expected at least 2 (a token and `</s>`). "
                f"Received: max_length={max_length!r}"
            )
        self.pad_to_multiple_of = check_positive_int("pad_to_multiple_of", pad_to_multiple_of)
        self.built = True

    @classmethod
    def from_texts(
        cls,
        sources,
        targets,
        source_vocabulary_size=4000,
        target_vocabulary_size=4000,
        max_length=None,
        pad_to_multiple_of=8,
        **sentencepiece_options,
    ):
        """A preprocessor whose two SentencePiece models are learnt from texts.

        Args:
            sources: List of source strings.
            targets: List of target strings.
            source_vocabulary_size: Positive integer (default `4000`), an
                upper bound: a small corpus gets fewer pieces.
            target_vocabulary_size: Positive integer (default `4000`).
            max_length: As the constructor's.
            pad_to_multiple_of: As the constructor's.
            **sentencepiece_options: `character_coverage`,
                `user_defined_symbols`, `split_digits`, `byte_fallback`.

        Returns:
            A `TranslatorPreprocessor`.
        """
        check_positive_int("source_vocabulary_size", source_vocabulary_size)
        check_positive_int("target_vocabulary_size", target_vocabulary_size)
        for name, texts in (("sources", sources), ("targets", targets)):
            if isinstance(texts, (str, bytes)) or not any(str(text).strip() for text in texts):
                raise ValueError(
                    f"Argument `{name}` expected a list of texts, some not blank. "
                    f"Received: {name}={texts!r:.80}"
                )
        source_tokenizer, _ = train_tokenizer(
            sources, source_vocabulary_size, **sentencepiece_options
        )
        target_tokenizer, _ = train_tokenizer(
            targets, target_vocabulary_size, **sentencepiece_options
        )
        return cls(source_tokenizer, target_tokenizer, max_length, pad_to_multiple_of)

    def source_vocabulary_size(self):
        """The number of source token ids (an integer)."""
        return int(self.source_tokenizer.vocabulary_size())

    def target_vocabulary_size(self):
        """The number of target token ids (an integer)."""
        return int(self.target_tokenizer.vocabulary_size())

    # === Graph-mode work ===

    def encode_sources(self, texts, max_length=None):
        """Source ids `(batch, time)` of a string tensor `(batch,)` (TensorFlow ops)."""
        ids = self.source_tokenizer(texts)
        if max_length is not None:
            ids = ids[:, :max_length]
        return _pad_ids(ids, self.pad_to_multiple_of)

    def encode_targets(self, texts, max_length=None):
        """`(decoder_input_ids, target_ids)`: `<s> y1..yn` and `y1..yn </s>`, padded alike."""
        import tensorflow as tf

        ids = self.target_tokenizer(texts)
        if max_length is not None:
            ids = ids[:, : max_length - 1]
        ids = tf.cast(ids, tf.int32)
        column = tf.ones_like(ids[:, :1])
        decoder_inputs = tf.concat([column * BOS_ID, ids], axis=1)
        targets = tf.concat([ids, column * EOS_ID], axis=1)
        multiple = self.pad_to_multiple_of
        return _pad_ids(decoder_inputs, multiple), _pad_ids(targets, multiple)

    def call(self, x, y=None, sample_weight=None):
        # Reached when tracing (tf.data, tf.function, symbolic Keras inputs).
        source_ids = self.encode_sources(x, self.max_length)
        if y is None:
            return keras.utils.pack_x_y_sample_weight(source_ids, None, sample_weight)
        decoder_inputs, target_ids = self.encode_targets(y, self.max_length)
        return keras.utils.pack_x_y_sample_weight(
            (source_ids, decoder_inputs), target_ids, sample_weight
        )

    def __call__(self, x, y=None, sample_weight=None, **kwargs):
        # Strings cannot be backend tensors on JAX or PyTorch, so the layer's
        # own `__call__` (which converts its inputs) only builds symbolic models.
        if isinstance(x, keras.KerasTensor):
            return super().__call__(x, y=y, sample_weight=sample_weight)
        import tensorflow as tf

        sources = _as_string_batch(x)
        targets = None if y is None else _as_string_batch(y)
        if not tf.executing_eagerly():  # in tf.data or a tf.function
            return self.call(sources, targets, sample_weight)
        functions = _EAGER_FUNCTIONS.setdefault(self, {})
        key = targets is None
        if key not in functions:
            # Traced once: eager keras-hub tokenizers return lists, not tensors.
            layer = weakref.ref(self)
            spec = tf.TensorSpec([None], tf.string)
            if key:
                functions[key] = tf.function(
                    lambda s: layer().call(s), input_signature=[spec], autograph=False
                )
            else:
                functions[key] = tf.function(
                    lambda s, t: layer().call(s, t), input_signature=[spec, spec], autograph=False
                )
        outputs = functions[key](sources) if key else functions[key](sources, targets)
        if keras.backend.backend() != "tensorflow":
            outputs = keras.tree.map_structure(
                lambda t: keras.ops.convert_to_tensor(t.numpy()), outputs
            )
        if sample_weight is None:
            return outputs
        x_out, y_out = (outputs, None) if key else outputs
        return keras.utils.pack_x_y_sample_weight(x_out, y_out, sample_weight)

    def compute_output_spec(self, x, y=None, sample_weight=None):
        ids = keras.KerasTensor((x.shape[0], None), dtype="int32")
        if y is None:
            return keras.utils.pack_x_y_sample_weight(ids, None, sample_weight)
        return keras.utils.pack_x_y_sample_weight((ids, ids), ids, sample_weight)

    # === Ids -> text ===

    def target_pieces(self):
        """The target pieces by id as a `tf.string` tensor (byte pieces as their byte)."""
        if self not in _TARGET_PIECES:
            _TARGET_PIECES[self] = target_pieces(self.target_tokenizer)
        return _TARGET_PIECES[self]

    def detokenize(self, token_ids):
        """Target token ids `(batch, time)` -> a list of strings (control ids dropped)."""
        token_ids = np.asarray(keras.ops.convert_to_numpy(token_ids), dtype=np.int32)
        return strings_of(detokenize_pieces(self.target_pieces(), token_ids))

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(
            {
                "source_tokenizer": _proto_text(self.source_tokenizer),
                "target_tokenizer": _proto_text(self.target_tokenizer),
                "max_length": self.max_length,
                "pad_to_multiple_of": self.pad_to_multiple_of,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("source_tokenizer", "target_tokenizer"):
            if isinstance(config.get(name), str):
                config[name] = tokenizer_from_proto(base64.b64decode(config[name]))
        return cls(**config)

    # === Presets ===

    def save_to_preset(self, preset_dir):
        """Writes `preprocessor.json` (the tokenizers' models inside) into a preset folder.

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
                (`max_length`, `pad_to_multiple_of`).

        Returns:
            A `TranslatorPreprocessor`.
        """
        return load_preprocessor_preset(cls, preset_dir, **kwargs)


def _proto_text(tokenizer):
    """The tokenizer's SentencePiece model as base64 text (a JSON config holds it)."""
    return base64.b64encode(tokenizer.proto).decode("ascii")
