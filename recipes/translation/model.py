"""The attentional encoder-decoder: layers, the teacher-forced model, the search.

`Seq2Seq(config, source_vocabulary_size, target_vocabulary_size)` builds

* the encoder: source embedding (`mask_zero`), dropout, `encoder_layers`
  bidirectional toolkit recurrent layers of the configured cell; the last
  one's forward and backward final states go through a `tanh` bridge into the
  decoder's initial state;
* the decoder: target embedding, an `AttentionDecoderCell` (the configured
  cell, the configured attention, input feeding, attention layer
  `tanh(W_c [h; c])`) run by an `AttentionDecoder` over the shifted target
  (teacher forcing), or a plain recurrent layer when `attention="none"`;
  dropout; a projection to target-vocabulary logits.

`model` is the Keras model `[source_ids, decoder_input_ids] -> logits` that
`fit` trains; `search(source_ids, ...)` runs greedy or beam search over the
same layers with `keras.ops` only, so it compiles with `tf.function` and
`jax.jit` and exports into a SavedModel. `Seq2Seq.from_model(model, config)`
rebuilds the object around a loaded model.
"""

import keras
from keras import ops

import toolkit
from toolkit.attention import AttentionDecoder
from toolkit.attention import AttentionDecoderCell
from toolkit.decoding import beam_search
from toolkit.decoding import greedy_search
from toolkit.decoding import tile_batch
from toolkit.losses import LabelSmoothedCrossEntropy

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # SentencePiece ids of the recipe's tokenizers
# Any attention name of `toolkit.attention.available()`, or none.
ATTENTIONS = (*toolkit.attention.available(), "none")
# Any cell name of `toolkit.layers.available()`.
CELLS = toolkit.layers.available()

# Models saved before the loss moved into the library name it
# `recipes.translation>LabelSmoothedCrossEntropy`; that name still loads (with this
# module imported). Its `ignore_class` default, 0, is `PAD`, as the old loss had it.
LEGACY_NAMES = {"recipes.translation>LabelSmoothedCrossEntropy": LabelSmoothedCrossEntropy}
keras.saving.get_custom_objects().update(LEGACY_NAMES)


def attention_mechanism(name, units):
    """The toolkit attention mechanism for a config name (`None` for `"none"`)."""
    if name == "none":
        return None
    return toolkit.attention.get(name, units, name="attention")


class Seq2Seq:
    """The encoder-decoder's layers, its training model and its search."""

    def __init__(self, config, source_vocabulary_size, target_vocabulary_size, model=None):
        self.config = config
        if model is None:
            model = self._build(source_vocabulary_size, target_vocabulary_size)
        self.model = model
        self.source_embedding = model.get_layer("source_embedding")
        self.encoders = [model.get_layer(f"encoder_{i}") for i in range(config.encoder_layers)]
        bridged, _ = self._state_counts(config.cell)
        self.bridges = [model.get_layer(f"bridge_{i}") for i in range(bridged)]
        self.target_embedding = model.get_layer("target_embedding")
        self.decoder = model.get_layer("decoder")
        self.projection = model.get_layer("projection")
        self.memory_projection = (
            model.get_layer("memory_projection") if config.attention == "luong-dot" else None
        )

    @classmethod
    def from_model(cls, model, config):
        """Wraps a loaded training model (its layers are found by name)."""
        return cls(config, None, None, model=model)

    @staticmethod
    def _state_counts(cell):
        """`(bridged, total)`: how many decoder states the bridge sets, of how many.

        The bridge maps the encoder's final hidden states (and an LSTM's memory
        cells) to the decoder's; any other state (sLSTM's cell, normalizer and
        stabilizer) starts at the cell's zero state, which is consistent.
        """
        total = len(toolkit.layers.get(cell).cell_class(1).state_size)
        return (2 if cell == "lstm" else 1), total

    # === Building ===

    def _build(self, source_vocabulary_size, target_vocabulary_size):
        config = self.config
        if config.cell not in CELLS:
            raise ValueError(
                f"Config key `cell` expected one of {list(CELLS)}. Received: {config.cell!r}"
            )
        layer_class = toolkit.layers.get(config.cell)
        source_ids = keras.Input((None,), dtype="int32", name="source_ids")
        decoder_ids = keras.Input((None,), dtype="int32", name="decoder_input_ids")
        x = keras.layers.Embedding(
            source_vocabulary_size, config.embedding_dim, mask_zero=True, name="source_embedding"
        )(source_ids)
        x = keras.layers.Dropout(config.dropout)(x)
        for index in range(config.encoder_layers):
            last = index == config.encoder_layers - 1
            encoder = keras.layers.Bidirectional(
                layer_class(config.units, return_sequences=True, return_state=last),
                name=f"encoder_{index}",
            )
            x = encoder(x)
            if not last:
                x = keras.layers.Dropout(config.dropout)(x)
        memory, final_states = x[0], x[1:]
        count, total = self._state_counts(config.cell)
        # Bidirectional returns forward states, then backward states.
        initial_state = [
            keras.layers.Dense(config.units, activation="tanh", name=f"bridge_{i}")(
                keras.layers.Concatenate()([final_states[i], final_states[total + i]])
            )
            for i in range(count)
        ]
        initial_state += [ops.zeros_like(initial_state[0]) for _ in range(total - count)]
        if config.attention == "luong-dot":
            memory = keras.layers.Dense(config.units, use_bias=False, name="memory_projection")(
                memory
            )
        y = keras.layers.Embedding(
            target_vocabulary_size, config.embedding_dim, mask_zero=True, name="target_embedding"
        )(decoder_ids)
        y = keras.layers.Dropout(config.dropout)(y)
        cell = layer_class.cell_class(config.units)
        mechanism = attention_mechanism(config.attention, config.units)
        if mechanism is None:
            outputs = toolkit.layers.Recurrent(cell, return_sequences=True, name="decoder")(
                y, initial_state=initial_state
            )
        else:
            decoder_cell = AttentionDecoderCell(
                cell, mechanism, attention_layer_size=config.units, input_feeding=True
            )
            outputs = AttentionDecoder(decoder_cell, name="decoder")(
                y, memory, initial_state=initial_state
            )
        outputs = keras.layers.Dropout(config.dropout)(outputs)
        # Scaled by fan-in only: Glorot's fan-in + fan-out over a vocabulary
        # of thousands makes the logits' weights so small that training sits
        # for epochs on the unigram plateau.
        logits = keras.layers.Dense(
            target_vocabulary_size,
            kernel_initializer="lecun_normal",
            dtype="float32",
            name="projection",
        )(outputs)
        return keras.Model([source_ids, decoder_ids], logits, name="seq2seq")

    # === Decoding ===

    def encode(self, source_ids):
        """`(memory, mask, decoder initial states)` of a source batch."""
        mask = ops.not_equal(source_ids, PAD)
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

    def search(
        self,
        source_ids,
        beam_width=5,
        length_penalty=1.0,
        max_length_ratio=2.0,
        max_length_offset=10,
        max_length=200,
        return_alignments=False,
    ):
        """Translates token ids: greedy search (`beam_width=None`) or beam search.

        Returns the search's dict (`tokens`, `lengths`, `scores`, ...); beam
        search keeps only the best hypothesis per source
        (`tokens` `(batch, max_length)`).
        """
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        memory, mask, states = self.encode(source_ids)
        batch = ops.shape(source_ids)[0]
        cell = self.decoder.cell
        if self.config.attention == "none":
            initial = list(states)

            def step_fn(tokens, state):
                # The embedding table looked up directly: the layer's output
                # carries a mask that a plain cell does not take.
                inputs = ops.take(self.target_embedding.embeddings, tokens, axis=0)
                output, state = cell(inputs, state)
                return self.projection(output), state

            return_alignments = False
        else:
            rows = 1 if beam_width is None else beam_width
            initial = cell.get_initial_state(memory, states)
            context = cell.prepare_memory(tile_batch(memory, rows), tile_batch(mask, rows))

            def step_fn(tokens, state):
                output, state, alignments = cell(self.target_embedding(tokens), state, context)
                return self.projection(output), state, alignments

        common = dict(
            start_tokens=ops.full((batch,), BOS, dtype="int32"),
            end_token=EOS,
            max_length=max_length,
            source_lengths=ops.sum(ops.cast(mask, "int32"), axis=1),
            max_length_ratio=max_length_ratio,
            max_length_offset=max_length_offset,
            pad_token=PAD,
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
