"""Run folders: saving, loading, the string-to-string SavedModel, `translate`.

A run folder holds `model.keras` (the `toolkit.models.Translator`, its
tokenizers inside), `source.spm` / `target.spm` (the SentencePiece models,
for other tools) and `config.json`. `saved_model/` is written by
`toolkit.export.export_translator`: a `translate` signature, a batch of
source strings `(batch,)` -> `{"translation": (batch,) strings}`, with
tokenization, encoding, beam search and detokenization in the graph, and,
when the run protects spans (`protect`), the masking of the sources'
protected spans before tokenization and their restoring into the
translations (`protection.SpanProtection.mask_tensor` / `unmask_tensor`,
core TensorFlow string ops, as the exporter's `text_transform`).
Serving it needs TensorFlow and the SentencePiece op kernels of
tensorflow-text, and nothing of Keras, keras-hub or this project: in Python
`import tensorflow_text` (or, without its Python package,
`tf.load_op_library(".../tensorflow_text/python/ops/_sentencepiece_tokenizer.so")`)
before `tf.saved_model.load`; TensorFlow Serving builds include these ops.

Run folders written before the recipe used the task model hold a plain
functional `model.keras` (named `"seq2seq"`); `load_run` rebuilds a
`Translator` from it, its config and the `.spm` files.
"""

import dataclasses
import json
import warnings

from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import load_run_model
from recipes.runner.outputs import read_run_config
from recipes.translation.protection import SpanProtection
from toolkit.export import export_translator
from toolkit.models import Translator

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


def export_saved_model(translator, config, path):
    """Writes the string-to-string SavedModel (TensorFlow backend); the verifier's summary."""
    return export_translator(
        translator,
        path,
        text_transform=SpanProtection.from_config(config),
        signature=SIGNATURE,
        **search_options(config),
    )


def export_run(run_dir):
    """Writes `<run_dir>/saved_model/` from a finished run folder.

    Needs the TensorFlow backend; a run trained with JAX or PyTorch is
    exported this way (`KERAS_BACKEND=tensorflow python -m
    recipes.translation export RUN_DIR`), since `model.keras` loads on any
    backend. Returns the SavedModel's path.
    """
    require_tensorflow_backend("Exporting the string-to-string SavedModel")
    translator, config = load_run(run_dir)
    return write_run_saved_model(
        run_dir, lambda folder: export_saved_model(translator, config, folder)
    )


def save_run_files(staging, translator):
    translator.save(staging / "model.keras")
    preprocessor = translator.preprocessor
    (staging / "source.spm").write_bytes(preprocessor.source_tokenizer.proto)
    (staging / "target.spm").write_bytes(preprocessor.target_tokenizer.proto)


def load_run(run_dir):
    """`(translator, config)` of a finished run folder.

    A `config.json` without `protect` (written before placeholder
    protection existed) loads with `protect=False`: its tokenizers have no
    placeholder pieces.
    """
    from recipes.translation.config import TranslationConfig

    needed = ["model.keras", "source.spm", "target.spm", "config.json"]
    run_dir, config = read_run_config(run_dir, TranslationConfig, needed)
    if "protect" not in json.loads((run_dir / "config.json").read_text(encoding="utf-8")):
        config = dataclasses.replace(config, protect=False)
    with warnings.catch_warnings():
        # The translator compiles itself when built, so Keras offers the saved
        # optimizer state to its unbuilt optimizer; serving needs none.
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model = load_run_model(run_dir, compile=False)
    if not isinstance(model, Translator):
        model = _from_functional_model(run_dir, model, config)
    return model, config


def _from_functional_model(run_dir, model, config):
    """The `Translator` of a run folder whose `model.keras` is the old functional model."""
    from recipes.translation.model import legacy_translator
    from recipes.translation.tokenizers import PAD_MULTIPLE
    from toolkit.models import TranslatorPreprocessor
    from toolkit.models.sentencepiece import tokenizer_from_proto

    source, target = (
        tokenizer_from_proto((run_dir / name).read_bytes()) for name in ("source.spm", "target.spm")
    )
    preprocessor = TranslatorPreprocessor(
        source, target, max_length=config.max_tokens, pad_to_multiple_of=PAD_MULTIPLE
    )
    return legacy_translator(model, config, preprocessor)


def translate_texts(run_dir, texts, beam_width=None, batch_size=64):
    """Translations (a list of strings) of `texts` with a run folder's model."""
    from recipes.translation.pipeline import translate_batches

    translator, config = load_run(run_dir)
    translations, _ = translate_batches(
        translator,
        list(texts),
        search_options(config, beam_width),
        batch_size,
        protection=SpanProtection.from_config(config),
    )
    return translations
