"""One run of the recipe: data, tokenizers, the translator, fit, translate, score, export."""

import pathlib
import time

import keras

from recipes.runner import config_to_dict
from recipes.runner import fit_callbacks
from recipes.runner import local_copy
from recipes.runner import make_optimizer
from recipes.runner import planned_epochs
from recipes.runner import prepare_model_for_strategy
from recipes.runner import restore_best
from recipes.runner import run_as_chief_or_worker
from recipes.runner import set_precision
from recipes.runner import staged_output
from recipes.runner import strategy_scope
from recipes.runner.errors import reading_data
from recipes.runner.exporting import export_in_tensorflow_process
from recipes.runner.exporting import ops_report
from recipes.runner.exporting import saved_model_not_written
from recipes.runner.exporting import verified_ops
from recipes.runner.reports import Phases
from recipes.runner.reports import plot_training_curves
from recipes.runner.reports import print_data_notes
from recipes.runner.reports import write_json
from recipes.runner.training import check_evaluation_splits
from recipes.translation.callbacks import DEV_BLEU
from recipes.translation.callbacks import DevBleu
from recipes.translation.config import DEFAULT_DATA
from recipes.translation.export import SIGNATURE
from recipes.translation.export import export_saved_model
from recipes.translation.export import save_run_files
from recipes.translation.export import search_options
from recipes.translation.export import translate_texts
from recipes.translation.model import PAD
from recipes.translation.model import build_translator
from recipes.translation.pipeline import pair_dataset
from recipes.translation.pipeline import source_pieces
from recipes.translation.pipeline import translate_batches
from recipes.translation.protection import SpanProtection
from recipes.translation.protection import masked_pairs
from recipes.translation.scoring import bleu_by_source_length
from recipes.translation.scoring import corpus_scores
from recipes.translation.scoring import span_copies
from recipes.translation.tokenizers import make_preprocessor
from toolkit.data import load_parallel_splits
from toolkit.export import SENTENCEPIECE_OPS
from toolkit.losses import LabelSmoothedCrossEntropy


def load_splits(config):
    path = pathlib.Path(config.data) if config.data is not None else DEFAULT_DATA
    splits, record = load_parallel_splits(
        path,
        format=config.format,
        source_language=config.source_language,
        target_language=config.target_language,
        source_column=config.source_column,
        target_column=config.target_column,
        encoding=config.encoding,
        max_words=config.max_words,
        dev_fraction=config.dev_fraction,
        test_fraction=config.test_fraction,
        seed=config.split_seed,
    )
    check_evaluation_splits(splits, config, path)
    return splits, record


def run(config, out_dir):
    """Trains, scores and exports one translator; returns the metrics dict.

    Everything goes to a staging folder that becomes `out_dir` only when the
    whole run succeeded; under several workers only the chief writes it.
    """
    return run_as_chief_or_worker(_run, config, out_dir)


def _run(config, out_dir, strategy):
    start = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    policy = set_precision(config.mixed_precision)
    phases = Phases(config.verbose)
    with phases("reading data", str(config.data or DEFAULT_DATA)):
        with reading_data():
            splits, data_record = load_splits(config)
    print_data_notes(data_record, config.verbose)
    # Placeholder protection: training and dev pairs are masked before the
    # tokenizers learn their pieces; test sources are masked when translated.
    span_finder = SpanProtection.of_config_classes(config)  # checks the keys before any work
    protection = span_finder if config.protect else None
    train_pairs = masked_pairs(splits["train"], protection)
    dev_pairs = masked_pairs(splits["dev"], protection)
    with phases("tokenizers", f"SentencePiece models learnt from {len(train_pairs)} pairs"):
        preprocessor = make_preprocessor(train_pairs, config)

    with strategy_scope(strategy):
        translator = build_translator(config, preprocessor)  # a toolkit.models.Translator
        translator.compile(
            optimizer=make_optimizer(config),
            loss=LabelSmoothedCrossEntropy(config.label_smoothing, ignore_class=PAD),
            metrics=["accuracy"],
        )
        prepare_model_for_strategy(translator, strategy)
    train_data = pair_dataset(preprocessor, train_pairs, config, training=True)
    dev_data = pair_dataset(preprocessor, dev_pairs, config, training=False)

    with staged_output(out_dir) as staging:
        epochs = planned_epochs(config)  # the schedule's budget, and fit's
        callbacks = _callbacks(config, translator, splits["dev"], staging / "logs", epochs)
        history = translator.fit(
            train_data,
            validation_data=dev_data,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,
            verbose=config.verbose,
        ).history
        training = restore_best(translator, callbacks, history)
        translator = local_copy(translator, config.strategy)  # itself under "default"

        test = splits["test"]
        decode_start = time.monotonic()
        options = search_options(config)
        with phases("beam search", f"translating {len(test)} test sources"):
            translations, results = translate_batches(
                translator,
                test.sources,
                {**options, "return_alignments": True},
                protection=protection,
            )
        decoding_seconds = time.monotonic() - decode_start
        scores = corpus_scores(translations, test.targets)
        with phases("greedy search", f"translating {len(test)} test sources"):
            # The dev BLEU's compiled greedy search, reused (same options, same model).
            greedy, _ = translate_batches(
                translator,
                test.sources,
                search_options(config, beam_width=1),
                protection=protection,
            )
        greedy_scores = corpus_scores(greedy, test.targets)
        metrics = {
            "split": "test",
            "pairs": len(test),
            "bleu": scores["bleu"],
            "chrf": scores["chrf"],
            "span_copies": span_copies(test.sources, translations, test.targets, span_finder),
            "implementation": "sacrebleu (corpus_score); BLEU 13a tokenization, chrF2",
            **{key: scores[key] for key in ("bleu_signature", "chrf_signature", "bleu_details")},
            "decoding": {
                "search": "greedy" if options["beam_width"] is None else "beam",
                "beam_width": config.beam_width,
                "length_penalty": config.length_penalty,
                "seconds": round(decoding_seconds, 1),
            },
            "greedy": {"bleu": greedy_scores["bleu"], "chrf": greedy_scores["chrf"]},
            "bleu_by_source_length": bleu_by_source_length(
                test.sources, translations, test.targets
            ),
            "examples": [
                {"source": s, "reference": r, "translation": t}
                for s, r, t in list(zip(test.sources, test.targets, translations))[
                    : config.examples
                ]
            ],
            "training": training,
            "backend": keras.backend.backend(),
            "dtype_policy": policy,
            "strategy": config.strategy,
            "vocabulary": {
                "source": preprocessor.source_vocabulary_size(),
                "target": preprocessor.target_vocabulary_size(),
            },
            "parameters": translator.count_params(),
        }
        plot_training_curves(history, staging / "training_curves.png")
        if config.attention != "none" and config.attention_examples:
            _plot_alignments(config, preprocessor, results[0], translations, staging)

        save_run_files(staging, translator)
        write_json(staging / "config.json", config_to_dict(config))
        with phases("export", "model.keras, the SavedModel and their checks"):
            metrics["export"] = _check_exports(translator, config, test, translations, staging)
        metrics["phase_seconds"] = {"training": training.get("seconds"), **phases.seconds}
        metrics["seconds"] = round(time.monotonic() - start, 1)
        write_json(staging / "data.json", data_record)
        write_json(staging / "metrics.json", metrics)
        (staging / "translations.txt").write_text(
            "".join(f"{line}\n" for line in translations), encoding="utf-8"
        )
    return metrics


def _callbacks(config, translator, dev, log_dir, epochs):
    """The runner's callbacks on dev loss, or on dev BLEU (computed first, ties to the loss)."""
    bleu = config.monitor == "bleu"
    callbacks = fit_callbacks(
        log_dir,
        monitor=DEV_BLEU if bleu else "val_loss",
        mode="max" if bleu else "min",
        tie_breaker=("val_loss", "min") if bleu else None,
        patience=config.patience,
        max_train_minutes=config.max_train_minutes,
        epochs=epochs,
        lr_schedule=config.lr_schedule,
    )
    if bleu:
        callbacks.insert(0, DevBleu(translator, dev, config, config.dev_bleu_pairs))
    return callbacks


def _check_exports(translator, config, test, translations, staging):
    """Reloads the run folder and the SavedModel (when written); translations must agree.

    Under TensorFlow the SavedModel is written in-process and must translate
    exactly as the model did. Under another backend it is written by a
    TensorFlow-backend subprocess from `model.keras` (`export` subcommand);
    the two backends' numerics may break a beam tie differently, so the
    agreement is reported instead of required.
    """
    sample = test.sources[:32]
    reloaded = translate_texts(staging, sample)
    report = {"keras_reload_same_translations": reloaded == translations[: len(sample)]}
    if not report["keras_reload_same_translations"]:
        raise RuntimeError("The reloaded model.keras translates test sentences differently")
    if not config.saved_model:
        report["saved_model"] = saved_model_not_written("recipes.translation")
        return report
    import tensorflow as tf

    same_backend = keras.backend.backend() == "tensorflow"
    if same_backend:
        # `export_translator` verifies the ops it wrote and returns the summary.
        ops = ops_report(export_saved_model(translator, config, staging / "saved_model"))
    else:
        export_in_tensorflow_process("recipes.translation", staging)
        ops = verified_ops(staging / "saved_model", SENTENCEPIECE_OPS)  # the report only
    loaded = tf.saved_model.load(str(staging / "saved_model"))
    served = getattr(loaded, SIGNATURE)(tf.constant(sample, tf.string))["translation"]
    served = [value.decode("utf-8") for value in served.numpy().tolist()]
    agreement = sum(a == b for a, b in zip(served, translations)) / len(sample)
    if same_backend and agreement < 1:
        raise RuntimeError("The exported SavedModel translates test sentences differently")
    report["saved_model"] = "saved_model/"
    report["saved_model_ops"] = ops
    report["saved_model_same_translations"] = agreement == 1
    report["saved_model_agreement"] = agreement
    return report


def _plot_alignments(config, preprocessor, result, translations, staging):
    from toolkit.inspect import plot_attention

    source_tokenizer = preprocessor.source_tokenizer
    target_tokenizer = preprocessor.target_tokenizer
    folder = staging / "attention"
    folder.mkdir()
    count = min(config.attention_examples, len(result["tokens"]))
    for index in range(count):
        source = source_pieces(source_tokenizer, result["source_ids"][index])
        length = int(result["lengths"][index])
        target = [target_tokenizer.id_to_token(int(i)) for i in result["tokens"][index][:length]]
        figure = plot_attention(
            result["alignments"][index],
            source_tokens=source,
            target_tokens=target,
            title=translations[index][:80],
        )
        figure.savefig(folder / f"example_{index}.png", dpi=100)
