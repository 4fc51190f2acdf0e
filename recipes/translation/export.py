"""Run folders: saving, loading, the string-to-string SavedModel, `translate`.

A run folder holds `model.keras` (the teacher-forced training model; its
layers are the translator's), `source.spm` / `target.spm` (the SentencePiece
models) and `config.json`. `saved_model/` has a `translate` signature: a
batch of source strings `(batch,)` -> `{"translation": (batch,) strings}`,
with tokenization, encoding, beam search and detokenization in the graph,
and, when the run protects spans (`protect`), the masking of the sources'
protected spans before tokenization and their restoring into the
translations (`protection.SpanProtection.mask_tensor` / `unmask_tensor`:
core TensorFlow string ops).
Serving it needs TensorFlow and the SentencePiece op kernels of
tensorflow-text, and nothing of Keras, keras-hub or this project: in Python
`import tensorflow_text` (or, without its Python package,
`tf.load_op_library(".../tensorflow_text/python/ops/_sentencepiece_tokenizer.so")`)
before `tf.saved_model.load`; TensorFlow Serving builds include these ops.
"""

import dataclasses
import json

import keras

from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import load_run_model
from recipes.runner.outputs import read_run_config
from recipes.translation.pipeline import detokenize
from recipes.translation.pipeline import encode_sources
from recipes.translation.pipeline import vocabulary_tensor
from recipes.translation.protection import SpanProtection
from recipes.translation.tokenizers import tokenizer_from_proto
from toolkit.export import SENTENCEPIECE_OPS

SIGNATURE = "translate"


def search_options(config, beam_width=None):
    """The search arguments of a config (`beam_width=1` means greedy search)."""
    width = config.beam_width if beam_width is None else beam_width
    return {
        "beam_width": None if width == 1 else width,
        "length_penalty": config.length_penalty,
        "max_length_ratio": config.max_length_ratio,
        "max_length_offset": config.max_length_offset,
    }


def export_saved_model(seq2seq, tokenizers, config, path):
    """Writes the string-to-string SavedModel (TensorFlow backend)."""
    import tensorflow as tf

    source_tokenizer, target_tokenizer = tokenizers
    options = search_options(config)
    archive = keras.export.ExportArchive()
    archive.track(seq2seq.model)
    archive.track(source_tokenizer)  # not the target one: see `pipeline.detokenize`
    pieces = vocabulary_tensor(target_tokenizer)
    protection = SpanProtection.from_config(config)

    def translate(texts):
        given = texts
        if protection is not None:
            texts, spans = protection.mask_tensor(texts)
        source_ids = encode_sources(source_tokenizer, texts)
        result = seq2seq.search(source_ids, **options)
        translations = detokenize(pieces, result["tokens"])
        if protection is not None:
            translations = protection.unmask_tensor(translations, spans)
        # Nothing to translate, nothing translated (the model would make up a sentence).
        translations = tf.where(tf.strings.length(tf.strings.strip(given)) > 0, translations, "")
        return {"translation": translations}

    archive.add_endpoint(SIGNATURE, translate, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(path), verbose=False)


def export_run(run_dir):
    """Writes `<run_dir>/saved_model/` from a finished run folder.

    Needs the TensorFlow backend; a run trained with JAX or PyTorch is
    exported this way (`KERAS_BACKEND=tensorflow python -m
    recipes.translation export RUN_DIR`), since `model.keras` loads on any
    backend. Returns the SavedModel's path.
    """
    require_tensorflow_backend("Exporting the string-to-string SavedModel")
    seq2seq, tokenizers, config = load_run(run_dir)
    for tokenizer in tokenizers:
        tokenizer.build(None)  # a tokenizer made from a proto is built on its first call
    return write_run_saved_model(
        run_dir,
        lambda folder: export_saved_model(seq2seq, tokenizers, config, folder),
        allowed_extra=SENTENCEPIECE_OPS,
    )


def save_run_files(staging, seq2seq, protos):
    seq2seq.model.save(staging / "model.keras")
    (staging / "source.spm").write_bytes(protos[0])
    (staging / "target.spm").write_bytes(protos[1])


def load_run(run_dir):
    """`(seq2seq, tokenizers, config)` of a finished run folder.

    A `config.json` without `protect` (written before placeholder
    protection existed) loads with `protect=False`: its tokenizers have no
    placeholder pieces.
    """
    import toolkit  # noqa: F401  (registers the layers model.keras holds)
    from recipes.translation.config import TranslationConfig
    from recipes.translation.model import Seq2Seq

    needed = ["model.keras", "source.spm", "target.spm", "config.json"]
    run_dir, config = read_run_config(run_dir, TranslationConfig, needed)
    if "protect" not in json.loads((run_dir / "config.json").read_text(encoding="utf-8")):
        config = dataclasses.replace(config, protect=False)
    model = load_run_model(run_dir, compile=False)
    tokenizers = tuple(
        tokenizer_from_proto((run_dir / name).read_bytes()) for name in ("source.spm", "target.spm")
    )
    return Seq2Seq.from_model(model, config), tokenizers, config


def translate_texts(run_dir, texts, beam_width=None, batch_size=64):
    """Translations (a list of strings) of `texts` with a run folder's model."""
    from recipes.translation.pipeline import translate_batches

    seq2seq, tokenizers, config = load_run(run_dir)
    translations, _ = translate_batches(
        seq2seq,
        tokenizers,
        list(texts),
        search_options(config, beam_width),
        batch_size,
        protection=SpanProtection.from_config(config),
    )
    return translations
