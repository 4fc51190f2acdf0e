"""BLEU of the translation recipe beside a keras-hub Transformer, same data, same budget.

The peer is the encoder-decoder Transformer of the keras-io example
"English-to-Spanish translation with KerasHub" (token + position embeddings,
one `TransformerEncoder`, one `TransformerDecoder`, embedding 256,
feed-forward 2048, 8 heads, dropout 0.5, RMSprop), trained on the same
splits, the same SentencePiece tokenizers and the same `tf.data` batches as
the recipe, for the same wall-clock budget on the same machine, then decoded
greedily as in the example. Both are scored with sacreBLEU on the test split.
Run:

    python -m benchmarks.translation_peer --minutes 10 --out runs/translation_peer

Not part of the test suite: it trains two models for `--minutes` each.
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np

from recipes.runner import WallClockBudget
from recipes.runner import load_config
from recipes.runner import staged_output
from recipes.translation import TranslationConfig
from recipes.translation import run
from recipes.translation.job import load_splits
from recipes.translation.model import BOS
from recipes.translation.model import EOS
from recipes.translation.model import PAD
from recipes.translation.pipeline import pair_dataset
from recipes.translation.scoring import corpus_scores
from recipes.translation.tokenizers import PAD_MULTIPLE
from toolkit.losses import LabelSmoothedCrossEntropy
from toolkit.models import TranslatorPreprocessor

POSITIONS = 256  # longest sequence the peer's position embedding covers


def transformer(source_vocabulary, target_vocabulary, embed_dim=256, intermediate=2048, heads=8):
    """The keras-io example's Transformer: `[source_ids, decoder_ids] -> logits`."""
    import keras_hub

    source_ids = keras.Input((None,), dtype="int32", name="source_ids")
    decoder_ids = keras.Input((None,), dtype="int32", name="decoder_input_ids")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        source_vocabulary, POSITIONS, embed_dim, mask_zero=True
    )(source_ids)
    memory = keras_hub.layers.TransformerEncoder(intermediate, heads)(x)
    y = keras_hub.layers.TokenAndPositionEmbedding(
        target_vocabulary, POSITIONS, embed_dim, mask_zero=True
    )(decoder_ids)
    y = keras_hub.layers.TransformerDecoder(intermediate, heads)(y, memory)
    y = keras.layers.Dropout(0.5)(y)
    logits = keras.layers.Dense(target_vocabulary, dtype="float32")(y)
    return keras.Model([source_ids, decoder_ids], logits, name="transformer")


def greedy_translate(model, preprocessor, texts, max_length_offset=10, batch_size=64):
    """Greedy decoding as in the example: re-run the decoder over the prefix."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size)
    batches = batches.map(lambda t: preprocessor.encode_sources(t)[:, : POSITIONS - 1])
    predict = tf.function(lambda s, d: model([s, d], training=False), reduce_retracing=True)
    translations = []
    for source_ids in batches:
        source_ids = source_ids.numpy()
        lengths = (source_ids != PAD).sum(1)
        steps = min(int(lengths.max() * 2 + max_length_offset), POSITIONS - 1)
        prefix = np.full((len(source_ids), 1), BOS, "int32")
        done = np.zeros(len(source_ids), bool)
        for _ in range(steps):
            logits = predict(source_ids, prefix).numpy()[:, -1]
            token = np.where(done, PAD, logits.argmax(-1)).astype("int32")
            done |= token == EOS
            prefix = np.concatenate([prefix, token[:, None]], axis=1)
            if done.all():
                break
        tokens = prefix[:, 1:]
        tokens = np.where(np.cumsum(tokens == EOS, axis=1) > 0, PAD, tokens)  # cut after </s>
        translations.extend(preprocessor.detokenize(tokens))
    return translations


def run_peer(config, minutes, out_dir):
    keras.utils.set_random_seed(config.seed)
    splits, _ = load_splits(config)
    preprocessor = TranslatorPreprocessor.from_texts(
        splits["train"].sources,
        splits["train"].targets,
        config.source_vocabulary,
        config.target_vocabulary,
        pad_to_multiple_of=PAD_MULTIPLE,
    )
    model = transformer(
        preprocessor.source_vocabulary_size(), preprocessor.target_vocabulary_size()
    )
    model.compile(
        keras.optimizers.RMSprop(),
        LabelSmoothedCrossEntropy(0.0, ignore_class=PAD),
        metrics=["accuracy"],
    )
    budget = WallClockBudget(minutes)
    with staged_output(out_dir) as staging:
        best = keras.callbacks.ModelCheckpoint(
            str(staging / "best.weights.h5"), save_best_only=True, save_weights_only=True
        )
        start = time.monotonic()
        history = model.fit(
            pair_dataset(preprocessor, splits["train"], config, training=True),
            validation_data=pair_dataset(preprocessor, splits["dev"], config, training=False),
            epochs=1000,
            callbacks=[budget, best],
            shuffle=False,
            verbose=config.verbose,
        ).history
        seconds = time.monotonic() - start
        model.load_weights(str(staging / "best.weights.h5"))
        test = splits["test"]
        translations = greedy_translate(model, preprocessor, test.sources)
        scores = corpus_scores(translations, test.targets)
        (staging / "translations.txt").write_text("".join(f"{t}\n" for t in translations))
    return {
        "model": "keras-hub Transformer (keras-io English-to-Spanish example), greedy",
        "bleu": scores["bleu"],
        "chrf": scores["chrf"],
        "bleu_signature": scores["bleu_signature"],
        "epochs_run": len(history["loss"]),
        "train_seconds": round(seconds, 1),
        "parameters": model.count_params(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    parser.add_argument("--out", default="runs/translation_peer")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    config = load_config(
        TranslationConfig,
        None,
        [f"max_train_minutes={args.minutes}", "epochs=1000", "patience=null", "verbose=2"]
        + args.set,
    )
    recipe = run(config, out / "recipe")
    peer = run_peer(config, args.minutes, out / "peer")
    report = {
        "minutes_per_model": args.minutes,
        "backend": keras.backend.backend(),
        "test_pairs": recipe["pairs"],
        "recipe": {
            "model": f"{config.cell} + {config.attention} attention encoder-decoder (this recipe)",
            "bleu_beam": recipe["bleu"],
            "chrf_beam": recipe["chrf"],
            "bleu_greedy": recipe["greedy"]["bleu"],
            "chrf_greedy": recipe["greedy"]["chrf"],
            "epochs_run": recipe["training"]["epochs_run"],
            "train_seconds": recipe["training"]["seconds"],
            "parameters": recipe["parameters"],
        },
        "peer": peer,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.translation_peer"))
