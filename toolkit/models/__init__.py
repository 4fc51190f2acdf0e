"""Task models: a preprocessor, a backbone and a head in one `keras.Model`.

keras-hub's task shape on the toolkit's recurrent layers. `TextClassifier`
turns raw strings into class probabilities: its `TextClassifierPreprocessor`
(strings -> token ids, in `tf.data`) feeds a `RecurrentTextBackbone` (token ids
-> pooled features) and a softmax head. `fit`, `evaluate` and `predict` take
raw texts on every backend; `.keras` files load with `import toolkit`, and
`save_to_preset` / `from_preset` use a local folder in keras-hub's layout.

`FrameTagger` turns waveforms into a label per frame (or, with CTC, a label
sequence): the `toolkit.features` front-end, recurrent layers and a head in
one functional model; `StreamingTagger` runs a unidirectional one chunk by
chunk.

`Translator` is an attentional encoder-decoder from source strings to target
strings: its `TranslatorPreprocessor` (two SentencePiece tokenizers, learnt
with `from_texts`) gives teacher-forcing token ids for `fit`, and `generate` /
`translate` search translations (greedy or beam search) in `keras.ops`.
"""

from toolkit.models.backbone import RecurrentTextBackbone
from toolkit.models.frame_tagger import FrameTagger
from toolkit.models.streaming import StreamingTagger
from toolkit.models.text_classifier import TextClassifier
from toolkit.models.text_classifier_preprocessor import TextClassifierPreprocessor
from toolkit.models.translator import Translator
from toolkit.models.translator_preprocessor import TranslatorPreprocessor

__all__ = [
    "TextClassifier",
    "TextClassifierPreprocessor",
    "RecurrentTextBackbone",
    "Translator",
    "TranslatorPreprocessor",
    "FrameTagger",
    "StreamingTagger",
]
