"""One run of the recipe: load, train, evaluate, compare, report and export."""

import time

import keras
import numpy as np

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
from recipes.runner.reports import classification_metrics
from recipes.runner.reports import plot_confusion_matrix
from recipes.runner.reports import plot_training_curves
from recipes.runner.reports import print_data_notes
from recipes.runner.reports import write_json
from recipes.runner.training import check_evaluation_splits
from recipes.runner.training import check_training_labels
from recipes.speech_tagging.baseline import mlp_baseline
from recipes.speech_tagging.export import SIGNATURE
from recipes.speech_tagging.export import load_run
from recipes.speech_tagging.model import tagger_arguments
from recipes.speech_tagging.pipeline import batch_order
from recipes.speech_tagging.pipeline import dataset
from recipes.speech_tagging.pipeline import encode_corpus
from recipes.speech_tagging.pipeline import label_inventory
from recipes.speech_tagging.pipeline import label_names
from recipes.speech_tagging.pipeline import padded_batch
from recipes.speech_tagging.pipeline import predict
from recipes.speech_tagging.plots import plot_utterance
from recipes.speech_tagging.scoring import ctc_decode_outputs
from recipes.speech_tagging.scoring import frame_timing
from recipes.speech_tagging.scoring import phone_error_rate
from toolkit.data import load_speech_splits
from toolkit.data import read_label_map
from toolkit.export import export_frame_tagger
from toolkit.models import FrameTagger
from toolkit.models import StreamingTagger
from toolkit.models.streaming import stream

RELOAD_TOLERANCE = 1e-4


def load_splits(config):
    """The train / dev / test corpora and the record of where they came from."""
    label_map = read_label_map(config.label_map) if config.label_map else None
    try:
        splits, record = _load_speech_splits(config, label_map)
    except ValueError as error:
        if "Pass `format`" not in str(error):
            raise
        # The loader's argument is this config's `data_format`: say so.
        raise ValueError(f"{error} (config key `data_format`: --set data_format=...)") from None
    check_evaluation_splits(splits, config, config.data_path)
    return splits, record


def _load_speech_splits(config, label_map):
    return load_speech_splits(
        config.data_path,
        sample_rate=config.sample_rate,
        resample=config.resample,
        tier=config.tier,
        silence_label=config.silence_label,
        label_map=label_map,
        format=config.data_format,
        speaker_level=config.speaker_level,
        dev_fraction=config.dev_fraction,
        test_fraction=config.test_fraction,
        seed=config.split_seed,
    )


def run(config, out_dir):
    """Trains, evaluates and exports one tagger; returns the metrics dict.

    Everything is written to a staging folder that becomes `out_dir` only
    when the whole run succeeded; under several workers only the chief
    writes it.
    """
    return run_as_chief_or_worker(_run, config, out_dir)


def _run(config, out_dir, strategy):
    start = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    policy = set_precision(config.mixed_precision)
    phases = Phases(config.verbose)
    with phases("reading data", str(config.data_path)):
        with reading_data():
            splits, data_record = load_splits(config)
    print_data_notes(data_record, config.verbose)
    labels = label_inventory(splits["train"])
    check_training_labels(labels, config.data_path)
    with phases("frame labels", f"{sum(map(len, splits.values()))} utterances"):
        examples = {name: encode_corpus(splits[name], labels, config, name) for name in splits}
    waveform = examples["train"][0].signal.ndim == 1
    channels = None if waveform else examples["train"][0].signal.shape[1]

    with strategy_scope(strategy):
        tagger = FrameTagger(
            **tagger_arguments(config, len(labels), feature_channels=channels, label_names=labels)
        )
        if config.cmvn == "global":
            tagger.adapt_cmvn(
                padded_batch([examples["train"][i] for i in positions], config, waveform)
                for positions in batch_order(examples["train"], 32)
            )
        # The tagger's own losses: framewise, cross-entropy weighted by the
        # batches' frame masks (and weighted accuracy); CTC, MaskedCTC.
        tagger.compile(optimizer=make_optimizer(config))
        prepare_model_for_strategy(tagger, strategy)
    train_data = dataset(examples["train"], config, waveform, training=True)
    dev_data = dataset(examples["dev"], config, waveform, training=False)

    with staged_output(out_dir) as staging:
        framewise = config.mode == "framewise"
        epochs = planned_epochs(config)  # the schedule's budget, and fit's
        callbacks = fit_callbacks(
            staging / "logs",
            monitor="val_accuracy" if framewise else "val_loss",
            mode="max" if framewise else "min",
            tie_breaker=("val_loss", "min") if framewise else None,
            patience=config.patience,
            max_train_minutes=config.max_train_minutes,
            epochs=epochs,
            lr_schedule=config.lr_schedule,
        )
        history = tagger.fit(
            train_data,
            validation_data=dev_data,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, every epoch
            verbose=config.verbose,
        ).history
        training = restore_best(tagger, callbacks, history)
        tagger = local_copy(tagger, config.strategy)

        with phases("evaluation", "tagging dev and test"):
            results = {
                name: evaluate(tagger, examples[name], labels, config) for name in ("dev", "test")
            }
        test = results["test"]
        metrics = {
            "split": "test",
            "mode": config.mode,
            **{key: value for key, value in test.items() if key != "predictions"},
            "dev": {key: value for key, value in results["dev"].items() if key != "predictions"},
            "labels": labels,
            "training": training,
            "backend": keras.backend.backend(),
            "dtype_policy": policy,
            "strategy": config.strategy,
            "parameters": tagger.count_params(),
        }
        with phases("front-end frames", "for the plots and the baseline"):
            frames = _front_end_frames(tagger, examples, config, waveform)
        if config.baseline and framewise:
            limit = max(60.0, training.get("seconds", 0.0))
            with phases("baseline", f"an MLP on stacked frames, at most {limit:.0f} s"):
                metrics["baseline"], metrics["comparison"] = _baseline(
                    frames, examples, labels, config, test, limit
                )

        plot_training_curves(history, staging / "training_curves.png")
        if framewise:
            true = np.concatenate([example.frames for example in examples["test"]])
            predicted = np.concatenate(test["predictions"])
            plot_confusion_matrix(
                true,
                predicted,
                labels,
                staging / "confusion_matrix.png",
                title=f"test frames, accuracy {test['frame_accuracy']:.3f}",
            )
        _plot_example(config, frames["test"], examples["test"], test, labels, staging)

        tagger.save(staging / "model.keras")
        (staging / "labels.txt").write_text("".join(f"{label}\n" for label in labels), "utf-8")
        write_json(staging / "config.json", config_to_dict(config))
        with phases("export", "model.keras, the SavedModel and their checks"):
            metrics["export"] = _check_exports(tagger, labels, config, examples["test"], staging)
        metrics["phase_seconds"] = {"training": training.get("seconds"), **phases.seconds}
        metrics["seconds"] = round(time.monotonic() - start, 1)
        write_json(staging / "data.json", data_record)
        write_json(staging / "metrics.json", metrics)
    return metrics


def evaluate(tagger, examples, labels, config):
    """Frame accuracy (framewise), PER and per-label scores of one split."""
    waveform = examples[0].signal.ndim == 1
    outputs = predict(tagger, examples, config, waveform)
    references = [example.sequence for example in examples]
    if config.mode == "ctc":
        decoded = ctc_decode_outputs(outputs, config.ctc_decoder, config.beam_width)
        hypotheses = [[labels[i] for i in row] for row in decoded]
        per = phone_error_rate(references, hypotheses, config.silence_label)
        return {
            "per": per["per"],
            "per_details": per,
            "utterances": len(examples),
            "decoder": config.ctc_decoder,
            "hypotheses": hypotheses,
        }
    predictions = [output.argmax(-1).astype("int32") for output in outputs]
    hypotheses = [[labels[i] for i in predicted] for predicted in predictions]
    per = phone_error_rate(references, hypotheses, config.silence_label)
    true = np.concatenate([example.frames for example in examples])
    scores = classification_metrics(true, np.concatenate(predictions), labels)
    return {
        "frame_accuracy": scores["accuracy"],
        "per": per["per"],
        "frame_macro_f1": scores["macro_f1"],
        "frames": scores["examples"],
        "utterances": len(examples),
        "per_details": per,
        "per_label": scores["per_class"],
        "predictions": predictions,
    }


def _front_end_frames(tagger, examples, config, waveform):
    """The normalized frames of each split (at the model's input frame rate)."""
    features = tagger.feature_model()
    frames = {}
    for name, split in examples.items():
        frames[name] = []
        for positions in batch_order(split, 32):
            batch = [split[i] for i in positions]
            inputs, _ = padded_batch(batch, config, waveform)
            values, mask = features.predict_on_batch(inputs)
            values, mask = np.asarray(values), np.asarray(mask)
            frames[name] += [values[row][mask[row]] for row in range(len(batch))]
    return frames


def _baseline(frames, examples, labels, config, test, max_seconds):
    """The MLP on stacked frames, its test PER, and the side-by-side comparison."""
    targets = {name: [example.frames for example in split] for name, split in examples.items()}
    # The MLP classifies input frames; with a stride the targets are subsampled.
    inputs = {name: [f[:: config.stride] for f in frames[name]] for name in frames}
    report, predictions = mlp_baseline(
        inputs,
        targets,
        labels,
        config.baseline_context,
        config.baseline_hidden,
        config.seed,
        max_seconds=max_seconds,
    )
    hypotheses = [[labels[i] for i in predicted] for predicted in predictions["test"]]
    references = [example.sequence for example in examples["test"]]
    report["test"]["per"] = phone_error_rate(references, hypotheses, config.silence_label)["per"]
    comparison = {
        "frame_accuracy": {
            "recipe": test["frame_accuracy"],
            "baseline": report["test"]["frame_accuracy"],
            "gain": test["frame_accuracy"] - report["test"]["frame_accuracy"],
            "recipe_beats_baseline": test["frame_accuracy"] > report["test"]["frame_accuracy"],
        },
        "per": {
            "recipe": test["per"],
            "baseline": report["test"]["per"],
            "gain": report["test"]["per"] - test["per"],
            "recipe_beats_baseline": test["per"] < report["test"]["per"],
        },
    }
    return report, comparison


def _plot_example(config, frames, examples, test, labels, staging):
    """utterance.png: one test utterance's features, reference and predicted labels."""
    index = min(config.plot_utterance, len(examples) - 1)
    example = examples[index]
    if config.mode == "ctc":
        predicted = None
        title = "predicted: " + " ".join(test["hypotheses"][index])
    else:
        predicted = [labels[i] for i in test["predictions"][index]]
        title = None
    seconds_per_frame, _ = frame_timing(config)
    plot_utterance(
        frames[index],
        label_names(labels, example.frames),
        predicted,
        seconds_per_frame / config.stride,
        config.stride,
        staging / "utterance.png",
        title=f"{example.id}" + (f"\n{title}" if title else ""),
    )


def _check_exports(tagger, labels, config, test, staging):
    """Reloads `model.keras`, the SavedModel (when written) and the stream; they must agree."""
    sample = test[:8]
    waveform = sample[0].signal.ndim == 1
    expected = predict(tagger, sample, config, waveform)
    reloaded, _, _ = load_run(staging)
    again = predict(reloaded, sample, config, waveform)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(expected, again))
    if not gap <= RELOAD_TOLERANCE:  # NaN fails too
        raise RuntimeError(f"The reloaded model.keras differs from the trained model by {gap}")
    report = {"keras_reload_max_abs_diff": gap}
    if config.streamable and waveform:
        report["streaming_max_abs_diff"] = _check_streaming(tagger, config, sample)
    if not config.saved_model:
        report["saved_model"] = saved_model_not_written("recipes.speech_tagging")
        return report
    import tensorflow as tf

    if keras.backend.backend() == "tensorflow":
        summary = export_frame_tagger(
            tagger,
            staging / "saved_model",
            labels,
            ctc_decoder=config.ctc_decoder,
            beam_width=config.beam_width,
            signature=SIGNATURE,
        )
        ops = ops_report(summary)  # the exporter verified the SavedModel
    else:
        # `export RUN_DIR` in a TensorFlow process verifies it; its report is read here.
        export_in_tensorflow_process("recipes.speech_tagging", staging)
        ops = verified_ops(staging / "saved_model")
    loaded = tf.saved_model.load(str(staging / "saved_model"))
    inputs, _ = padded_batch(sample, config, waveform)
    served = getattr(loaded, SIGNATURE)(*[tf.constant(value) for value in inputs.values()])
    if config.mode == "ctc":
        decoded = ctc_decode_outputs(list(expected), config.ctc_decoder, config.beam_width)
        ids, counts = served["label_ids"].numpy(), served["label_counts"].numpy()
        agreement = np.mean(
            [ids[row, : counts[row]].tolist() == want.tolist() for row, want in enumerate(decoded)]
        )
        # Another backend's beam search may break a tie differently: reported, not required.
        if agreement < 1 and keras.backend.backend() == "tensorflow":
            raise RuntimeError("The exported SavedModel decodes test utterances differently")
        report["saved_model_agreement"] = float(agreement)
    else:
        probabilities = served["probabilities"].numpy()
        gap = max(
            float(np.max(np.abs(probabilities[row, : len(e)] - e)))
            for row, e in enumerate(expected)
        )
        if not gap <= RELOAD_TOLERANCE:  # NaN fails too
            raise RuntimeError(f"The exported SavedModel differs from the trained model by {gap}")
        report["saved_model_max_abs_diff"] = gap
    report["saved_model"] = "saved_model/"
    report["saved_model_ops"] = ops
    report["saved_model_signatures"] = sorted(
        name for name in ("tag", "stream_init", "stream_step") if hasattr(loaded, name)
    )
    return report


def _check_streaming(tagger, config, sample):
    """Max gap between chunk-by-chunk and whole-utterance probabilities."""
    streaming = StreamingTagger(tagger)
    gaps = []
    for example in sample[:2]:
        offline = predict(tagger, [example], config, waveform=True)[0]
        streamed = stream(streaming, example.signal[None], chunk_hops=7)[0]
        gaps.append(float(np.max(np.abs(streamed[: len(offline)] - offline))))
    gap = max(gaps)
    if not gap <= RELOAD_TOLERANCE:  # NaN fails too
        raise RuntimeError(f"Streaming differs from whole-utterance tagging by {gap}")
    return gap
