"""Export: SavedModels of the task models, and proof that they serve with TensorFlow alone.

`export_text_classifier(model, path, class_names)` writes the raw-string
SavedModel of a `toolkit.models.TextClassifier` (strings in; `label` and
`probabilities` out) and verifies it.

`export_translator(model, path, ...)` writes the strings-to-strings SavedModel
of a `toolkit.models.Translator` (`translate`: source strings in,
`translation` out; tokenization, search and detokenization in the graph,
with an optional `text_transform` masking the sources and unmasking the
translations) and verifies it (the SentencePiece ops allowed).

`export_frame_tagger(model, path, labels)` writes the waveform SavedModel of
a `toolkit.models.FrameTagger` (`tag`: waveforms and lengths in; frame labels
and segments, or CTC labels, out; `stream_init` / `stream_step` for a model
that can stream) and verifies it.

`verify_saved_model(path, allowed_extra=())` reads a SavedModel's protobuf
(without loading it) and raises a `ValueError` naming every op of its graphs
that core TensorFlow cannot run on every machine: cuDNN (`Cudnn*`) and XLA
(`Xla*`) ops, and ops of add-on libraries, unless `allowed_extra` names them.
`saved_model_ops(path)` lists the ops of each of its graphs.

Constants: `SENTENCEPIECE_OPS`, the ops of tensorflow-text's SentencePiece
tokenizer (for `allowed_extra`), and `TOP_LEVEL_GRAPH`, the name
`saved_model_ops` gives the graph outside the function library.
"""

# The constants are public too; `__all__` lists the documented callables that
# tests/test_public_api.py checks.
from toolkit.export.frame_tagger import export_frame_tagger
from toolkit.export.text import export_text_classifier
from toolkit.export.translator import export_translator
from toolkit.export.verifier import SENTENCEPIECE_OPS as SENTENCEPIECE_OPS
from toolkit.export.verifier import TOP_LEVEL_GRAPH as TOP_LEVEL_GRAPH
from toolkit.export.verifier import saved_model_ops
from toolkit.export.verifier import verify_saved_model

__all__ = [
    "export_text_classifier",
    "export_frame_tagger",
    "export_translator",
    "saved_model_ops",
    "verify_saved_model",
]
