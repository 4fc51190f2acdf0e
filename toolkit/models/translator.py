"""The translator task: an attentional recurrent encoder-decoder, raw strings in and out."""

import weakref

import keras
import numpy as np
from keras import ops

from toolkit import attention as attention_names
from toolkit import layers as layer_names
from toolkit.arguments import check_choice
from toolkit.arguments import check_positive_float
from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.attention import AttentionDecoder
from toolkit.attention import AttentionDecoderCell
from toolkit.decoding import beam_search
from toolkit.decoding import greedy_search
from toolkit.losses import LabelSmoothedCrossEntropy
from toolkit.models.sentencepiece import BOS_ID
from toolkit.models.sentencepiece import EOS_ID
from toolkit.models.sentencepiece import PAD_ID
from toolkit.models.task import Task
from toolkit.models.task import _dataset_holds_strings
from toolkit.models.task import _holds_strings
from toolkit.models.task import _is_dataset

# Each model's compiled searches by their options, kept off the model (a
# `tf.function` attribute would be tracked into SavedModels).
_COMPILED_SEARCHES = weakref.WeakKeyDictionary()


def _vocabulary_size(name, given, known):
    if given is not None:
        given = check_positive_int(name, given)
    if given is None and known is None:
        raise ValueError(
            f"Argument `{name}` expected a positive integer when there is no "
            f"`preprocessor`. Received: {name}=None"
        )
    if given is not None and known is not None and given != known:
        raise ValueError(
            f"Argument `{name}` expected the preprocessor's size, {known}. Received: {name}={given}"
        )
    return known if given is None else given


def _check_beam_width(beam_width):
    if beam_width is None:
        return None
    beam_width = check_positive_int("beam_width", beam_width)
    return None if beam_width == 1 else beam_width


def decoder_state_counts(cell):
    """`(bridged, total)`: how many decoder states the bridge sets, of how many.

    The bridge maps the encoder's final hidden states (and an LSTM's memory
    cells) to the decoder's; any other state (sLSTM's cell, normalizer and
    stabilizer) starts at the cell's zero state, which is consistent.
    """
    total = len(layer_names.get(cell).cell_class(1).state_size)
    return (2 if cell == "lstm" else 1), total


@keras.saving.register_keras_serializable(package="toolkit")
class Translator(Task):
    """Attentional recurrent encoder-decoder: source strings -> target strings.

    keras-hub's `Seq2SeqLM` shape for translation with the toolkit's recurrent
    layers (Luong et al., 2015, with input feeding):

    ```
    source_ids (batch, source_time), 0 = padding
      -> Embedding(mask_zero) -> Dropout
      -> encoder_layers x Bidirectional <cell> (Dropout between)  = memory
      final forward/backward states -> Dense(tanh) bridge = decoder's initial state
    decoder_input_ids (batch, target_time) = <s> y1 .. yn
      -> Embedding(mask_zero) -> Dropout
      -> AttentionDecoder(<cell>, <attention> over memory, input feeding,
         attention layer tanh(W_c [h; c]))  (a plain <cell> with "none")
      -> Dropout -> Dense(lecun_normal, float32)
      -> logits (batch, target_time, target_vocabulary_size) of y1 .. yn </s>
    ```

    The model is the teacher-forced graph
    `[source_ids, decoder_input_ids] -> logits`; `fit` and `evaluate` take
    raw sentence pairs (`fit(sources, targets)`, lists of strings, or a
    batched `tf.data.Dataset` of `(sources, targets)`), turned into token ids
    by the `preprocessor` (a `toolkit.models.TranslatorPreprocessor`) in
    `tf.data`, so training runs on every backend; token ids and datasets of
    them go to Keras unchanged. `generate(source_ids)` searches target ids
    (greedy or beam search, `keras.ops` only: it compiles under `tf.function`
    and `jax.jit` and exports into SavedModels) and `translate(texts)` gives
    strings, a blank source giving `""`. `toolkit.export.export_translator`
    writes the strings-to-strings SavedModel.

    A new model is compiled with Adam (learning rate 1e-3, gradients clipped
    to a global norm of 1.0), `toolkit.losses.LabelSmoothedCrossEntropy`
    (smoothing 0.1, padding ignored) and token accuracy. `save` /
    `keras.models.load_model` need only `import toolkit` (the tokenizers'
    models travel in the config); `save_to_preset` / `from_preset` use a
    local folder in keras-hub's layout (no separate backbone: `task.json`,
    `task.weights.h5`, `preprocessor.json`, `metadata.json`).

    Args:
        preprocessor: A `TranslatorPreprocessor`, or `None` (default) for a
            model of token ids (then both vocabulary sizes are required).
        source_vocabulary_size: Optional positive integer (default `None`:
            the preprocessor's; given with one, the two must agree).
        target_vocabulary_size: Optional positive integer, likewise.
        cell: String (default `"gru"`), any of `toolkit.layers.available()`.
        attention: String (default `"luong-general"`), any of
            `toolkit.attention.available()`, or `"none"` (the decoder sees
            only the bridged final state).
        units: Positive integer (default `256`), the encoder's units per
            direction, the decoder's, the bridge's and the attention's.
        embedding_dim: Positive integer (default `128`), both embeddings.
        encoder_layers: Positive integer (default `1`), stacked bidirectional
            encoder layers.
        dropout: Float in `[0, 1)` (default `0.2`), on embeddings, between
            encoder layers and on the decoder's outputs.
        **kwargs: Model arguments (`name`, `trainable`).

    Call arguments:
        inputs: `[source_ids, decoder_input_ids]`, int `(batch, time)` each,
            0 at padding.
        training: Boolean, training mode (dropout).

    Returns:
        float32 logits `(batch, target_time, target_vocabulary_size)`.

    Attributes:
        preprocessor: The preprocessor, or `None`.

    Example:

    >>> import toolkit
    >>> sources = ["a cat", "a dog", "the cat sat", "the dog sat"] * 4
    >>> targets = ["un gato", "un perro", "el gato se sentó", "el perro se sentó"] * 4
    >>> preprocessor = toolkit.models.TranslatorPreprocessor.from_texts(
    ...     sources, targets, source_vocabulary_size=20, target_vocabulary_size=20)
    >>> translator = toolkit.models.Translator(
    ...     preprocessor, units=8, embedding_dim=8, attention="bahdanau")
    >>> history = translator.fit(sources, targets, batch_size=4, epochs=1, verbose=0)
    >>> translations = translator.translate(["a cat", ""], beam_width=2)
    >>> len(translations), translations[1]
    (2, '')
    """

    def __init__(
        self,
        preprocessor=None,
        source_vocabulary_size=None,
        target_vocabulary_size=None,
        cell="gru",
        attention="luong-general",
        units=256,
        embedding_dim=128,
        encoder_layers=1,
        dropout=0.2,
        **kwargs,
    ):
        if preprocessor is not None and not hasattr(preprocessor, "target_vocabulary_size"):
            raise ValueError(
                "Argument `preprocessor` expected a `toolkit.models.TranslatorPreprocessor` "
                f"or None. Received: preprocessor of type {type(preprocessor).__name__}"
            )
        source_vocabulary_size = _vocabulary_size(
            "source_vocabulary_size",
            source_vocabulary_size,
            None if preprocessor is None else preprocessor.source_vocabulary_size(),
        )
        target_vocabulary_size = _vocabulary_size(
            "target_vocabulary_size",
            target_vocabulary_size,
            None if preprocessor is None else preprocessor.target_vocabulary_size(),
        )
        cell = check_choice("cell", cell, layer_names.available())
        # Checked by name, not by making one: a layer made here would draw from
        # the seeded random state before the model's layers do.
        attention = check_choice(
            "attention", attention, (*attention_names.available(), "luong", "none")
        )
        attention = "luong-general" if attention == "luong" else attention
        units = check_positive_int("units", units)
        embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        encoder_layers = check_positive_int("encoder_layers", encoder_layers)
        dropout = check_rate("dropout", dropout)
        layer_class = layer_names.get(cell)

        # === Functional Model ===
        # Layers are made and called in the order (and with the names) of the
        # translation recipe's first model: the same seed gives the same
        # weights, and its `model.keras` files map layer by layer.
        source_ids = keras.Input((None,), dtype="int32", name="source_ids")
        decoder_ids = keras.Input((None,), dtype="int32", name="decoder_input_ids")
        source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_dim, mask_zero=True, name="source_embedding"
        )
        x = source_embedding(source_ids)  # built (weights drawn) before the dropout is made
        x = keras.layers.Dropout(dropout)(x)
        encoders = []
        for index in range(encoder_layers):
            last = index == encoder_layers - 1
            encoders.append(
                keras.layers.Bidirectional(
                    layer_class(units, return_sequences=True, return_state=last),
                    name=f"encoder_{index}",
                )
            )
            x = encoders[-1](x)
            if not last:
                x = keras.layers.Dropout(dropout)(x)
        memory, final_states = x[0], x[1:]
        bridged, total = decoder_state_counts(cell)  # here: it makes a cell (see above)
        # Bidirectional returns forward states, then backward states.
        bridges = []
        initial_state = []
        for index in range(bridged):
            bridges.append(keras.layers.Dense(units, activation="tanh", name=f"bridge_{index}"))
            initial_state.append(
                bridges[-1](
                    keras.layers.Concatenate()([final_states[index], final_states[total + index]])
                )
            )
        initial_state += [ops.zeros_like(initial_state[0]) for _ in range(total - bridged)]
        memory_projection = None
        if attention == "luong-dot":
            memory_projection = keras.layers.Dense(units, use_bias=False, name="memory_projection")
            memory = memory_projection(memory)
        target_embedding = keras.layers.Embedding(
            target_vocabulary_size, embedding_dim, mask_zero=True, name="target_embedding"
        )
        y = target_embedding(decoder_ids)
        y = keras.layers.Dropout(dropout)(y)
        decoder_cell = layer_class.cell_class(units)
        if attention == "none":
            decoder = layer_names.Recurrent(decoder_cell, return_sequences=True, name="decoder")
            outputs = decoder(y, initial_state=initial_state)
        else:
            mechanism = attention_names.get(attention, units, name="attention")
            decoder = AttentionDecoder(
                AttentionDecoderCell(
                    decoder_cell, mechanism, attention_layer_size=units, input_feeding=True
                ),
                name="decoder",
            )
            outputs = decoder(y, memory, initial_state=initial_state)
        outputs = keras.layers.Dropout(dropout)(outputs)
        # Scaled by fan-in only: Glorot's fan-in + fan-out over a vocabulary
        # of thousands makes the logits' weights so small that training sits
        # for epochs on the unigram plateau.
        projection = keras.layers.Dense(
            target_vocabulary_size,
            kernel_initializer="lecun_normal",
            dtype="float32",
            name="projection",
        )
        logits = projection(outputs)
        kwargs.setdefault("name", "translator")
        super().__init__(inputs=[source_ids, decoder_ids], outputs=logits, **kwargs)

        # === Layers ===
        self.source_embedding = source_embedding
        self.encoders = encoders
        self.bridges = bridges
        self.memory_projection = memory_projection
        self.target_embedding = target_embedding
        self.decoder = decoder
        self.projection = projection
        self.preprocessor = preprocessor

        # === Config ===
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.cell = cell
        self.attention = attention
        self.units = units
        self.embedding_dim = embedding_dim
        self.encoder_layers = encoder_layers
        self.dropout = dropout
        self.compile()

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the translator's defaults for `"auto"`.

        Args:
            optimizer: `"auto"` (default: Adam, learning rate 1e-3, global
                gradient norm clipped to 1.0) or any Keras optimizer.
            loss: `"auto"` (default: `LabelSmoothedCrossEntropy(0.1,
                ignore_class=0)` of the logits) or any Keras loss.
            metrics: `"auto"` (default: token `accuracy`) or a list of metrics.
            **kwargs: Other `keras.Model.compile` arguments.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=1e-3, global_clipnorm=1.0)
        if loss == "auto":
            loss = LabelSmoothedCrossEntropy(0.1, ignore_class=PAD_ID)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """`keras.Model.predict` on token ids (teacher-forced logits); `translate` for texts."""
        texts = _dataset_holds_strings(x) if _is_dataset(x) else _holds_strings(x)
        if texts:
            raise ValueError(
                "Translator.predict runs the teacher-forced model on "
                "`[source_ids, decoder_input_ids]`. Received: texts; use "
                "`translate(texts)` for translations"
            )
        return super().predict(
            x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks
        )

    # === Search ===

    def encode(self, source_ids):
        """`(memory, mask, decoder initial states)` of source ids `(batch, time)`."""
        mask = ops.not_equal(source_ids, PAD_ID)
        x = self.source_embedding(source_ids)
        for encoder in self.encoders[:-1]:
            x = encoder(x, mask=mask)
        outputs = self.encoders[-1](x, mask=mask)
        memory, final_states = outputs[0], outputs[1:]
        total = len(final_states) // 2
        states = [
            bridge(ops.concatenate([final_states[i], final_states[total + i]], axis=-1))
            for i, bridge in enumerate(self.bridges)
        ]
        states += [ops.zeros_like(states[0]) for _ in range(total - len(states))]
        if self.memory_projection is not None:
            memory = self.memory_projection(memory)
        return memory, mask, states

    def generate(
        self,
        source_ids,
        beam_width=5,
        length_penalty=1.0,
        max_length_ratio=2.0,
        max_length_offset=10,
        max_length=200,
        return_alignments=False,
    ):
        """Searches target ids for source ids: greedy or beam search, `keras.ops` only.

        Runs eagerly, or traced inside a `tf.function` or `jax.jit` (what
        `translate` and `toolkit.export.export_translator` do). Each row
        starts at `<s>` (id 2) and ends with `</s>` (id 3, kept) or at
        `min(max_length, max_length_ratio * source_length + max_length_offset)`
        tokens; later positions are 0.

        Args:
            source_ids: int `(batch, time)`, 0 at padding.
            beam_width: `None` or `1` for greedy search, or a positive integer
                (default `5`) for beam search (`toolkit.decoding.beam_search`,
                the best hypothesis kept).
            length_penalty: Float (default `1.0`), GNMT's alpha (beam search).
            max_length_ratio: Positive float (default `2.0`).
            max_length_offset: Integer (default `10`).
            max_length: Positive integer (default `200`), the output's width.
            return_alignments: Boolean (default `False`), add the attention
                weights (not with `attention="none"`).

        Returns:
            A dict: `tokens` int32 `(batch, max_length)`, `lengths` `(batch,)`,
            `scores` `(batch,)` and, when asked, `alignments`
            `(batch, max_length, source_time)`.
        """
        beam_width = _check_beam_width(beam_width)
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        memory, mask, states = self.encode(source_ids)
        batch = ops.shape(source_ids)[0]
        cell = self.decoder.cell
        if self.attention == "none":
            initial = list(states)

            def step_fn(tokens, state):
                # The embedding table looked up directly: the layer's output
                # carries a mask that a plain cell does not take.
                inputs = ops.take(self.target_embedding.embeddings, tokens, axis=0)
                output, state = cell(inputs, state)
                return self.projection(output), state

            return_alignments = False
        else:
            initial = cell.get_initial_state(memory, states)
            context = cell.prepare_memory(memory, mask)  # shared by the beams: not tiled

            def step_fn(tokens, state):
                output, state, alignments = cell(self.target_embedding(tokens), state, context)
                return self.projection(output), state, alignments

        common = dict(
            start_tokens=ops.full((batch,), BOS_ID, dtype="int32"),
            end_token=EOS_ID,
            max_length=max_length,
            source_lengths=ops.sum(ops.cast(mask, "int32"), axis=1),
            max_length_ratio=max_length_ratio,
            max_length_offset=max_length_offset,
            pad_token=PAD_ID,
            return_alignments=return_alignments,
        )
        if beam_width is None:
            return greedy_search(step_fn, initial, **common)
        result = beam_search(
            step_fn,
            initial,
            beam_width=beam_width,
            length_penalty=length_penalty,
            num_results=1,
            **common,
        )
        return {key: value[:, 0] for key, value in result.items()}

    def compiled_generate(self, **options):
        """`generate` with `options`, compiled for the backend (one per set of options).

        A `tf.function` (TensorFlow) or `jax.jit` function (JAX) of source
        ids `(batch, time)`; both read the model's current weights at every
        call, so one serves a whole training run. Made once per model and
        options, then reused.

        Args:
            **options: `generate`'s keyword arguments.

        Returns:
            A function `source_ids -> dict of tensors`.
        """
        options = dict(options)
        options["beam_width"] = _check_beam_width(options.get("beam_width", 5))
        key = tuple(sorted(options.items()))
        searches = _COMPILED_SEARCHES.setdefault(self, {})
        if key not in searches:
            searches[key] = _compile_search(self, options)
        return searches[key]

    def translate(
        self,
        texts,
        beam_width=5,
        length_penalty=1.0,
        max_length_ratio=2.0,
        max_length_offset=10,
        max_length=200,
        batch_size=64,
        return_results=False,
        return_alignments=False,
    ):
        """Translates strings: tokenize, `generate` (compiled), detokenize.

        A blank source (empty or whitespace) translates to `""`; no texts
        give `[]`.

        Args:
            texts: A list of source strings.
            beam_width: `None` or `1` for greedy search, else the beam width
                (default `5`).
            length_penalty: Float (default `1.0`).
            max_length_ratio: Positive float (default `2.0`).
            max_length_offset: Integer (default `10`).
            max_length: Positive integer (default `200`).
            batch_size: Positive integer (default `64`), sources per search.
            return_results: Boolean (default `False`): also return, per
                batch, the search's dict as NumPy arrays with the batch's
                `source_ids`.
            return_alignments: Boolean (default `False`), alignments in those.

        Returns:
            A list of strings; with `return_results`, `(translations, results)`.
        """
        import tensorflow as tf

        if self.preprocessor is None:
            raise ValueError(
                "Translator.translate needs a preprocessor (tokenizers). Received: a "
                "translator with preprocessor=None; call `generate(source_ids)`"
            )
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "Argument `texts` expected a list of strings. Received: the single string "
                f"{texts!r}; wrap it in a list"
            )
        texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(
                    f"Argument `texts` expected strings. Received: texts[{index}]={text!r}"
                )
        batch_size = check_positive_int("batch_size", batch_size)
        check_positive_float("max_length_ratio", max_length_ratio)
        check_positive_int("max_length", max_length)
        search = self.compiled_generate(
            beam_width=beam_width,
            length_penalty=length_penalty,
            max_length_ratio=max_length_ratio,
            max_length_offset=max_length_offset,
            max_length=max_length,
            return_alignments=return_alignments,
        )
        translations, results = [], []
        if texts:
            preprocessor = self.preprocessor
            # Tokenized in graph mode (tf.data): eager keras-hub tokenizers return lists.
            batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
            batches = batches.batch(batch_size).map(preprocessor.encode_sources)
            for source_ids in batches:
                source_ids = source_ids.numpy()
                result = {k: ops.convert_to_numpy(v) for k, v in search(source_ids).items()}
                result["source_ids"] = source_ids
                translations.extend(preprocessor.detokenize(result["tokens"]))
                results.append(result)
        # Nothing to translate, nothing translated (the model would make up a sentence).
        translations = [t if s.strip() else "" for s, t in zip(texts, translations)]
        return (translations, results) if return_results else translations

    # === Config ===

    def get_config(self):
        # Not the functional config: the constructor's arguments rebuild the model.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "preprocessor": (
                None if self.preprocessor is None else keras.layers.serialize(self.preprocessor)
            ),
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "cell": self.cell,
            "attention": self.attention,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "encoder_layers": self.encoder_layers,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("preprocessor"), dict):
            config["preprocessor"] = keras.layers.deserialize(config["preprocessor"])
        return cls(**config)


def _compile_search(model, options):
    """`model.generate` with `options` as a `tf.function` or `jax.jit` function.

    Under JAX the weights are passed in as arguments through a
    `keras.StatelessScope`: a plain `jax.jit` would bake the values of the
    first call into the compiled function as constants.
    """

    model_ref = weakref.ref(model)  # the cache entry must not keep its model alive

    def search(source_ids):
        return model_ref().generate(source_ids, **options)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # No AutoGraph: the search runs under `jax.jit` too, so it has no Python
        # control flow on tensors, and converting the decoder's Python code took
        # about 3 s at a process's first trace.
        return tf.function(
            search, input_signature=[tf.TensorSpec((None, None), tf.int32)], autograph=False
        )
    if backend == "jax":
        import jax

        variables = list(model.variables)

        @jax.jit
        def stateless_search(values, source_ids):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return search(source_ids)

        return lambda source_ids: stateless_search([v.value for v in variables], source_ids)

    def eager_search(source_ids):
        return search(np.asarray(source_ids))

    return eager_search
