"""The recipe's command line: train (the default), `tag` and `export`."""

import argparse

from recipes.runner.cli import add_debug_argument
from recipes.runner.cli import add_training_arguments
from recipes.runner.cli import export_command
from recipes.runner.cli import subcommand_main
from recipes.runner.cli import train_command
from recipes.runner.reports import training_summary

EPILOG = """examples:
  python -m recipes.speech_tagging --out runs/speech_tagging
  python -m recipes.speech_tagging --data TIMIT/ --set label_map=timit_61_to_39.txt
  python -m recipes.speech_tagging --data mfa_output/ --set tier=phones --set features=mfcc
  python -m recipes.speech_tagging --preset recipes/speech_tagging/presets/streaming.yaml
  python -m recipes.speech_tagging --preset recipes/speech_tagging/presets/ctc.yaml
  python -m recipes.speech_tagging tag runs/speech_tagging recording.wav
  KERAS_BACKEND=tensorflow python -m recipes.speech_tagging export runs/speech_tagging
"""


def train_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.speech_tagging",
        description="Train, score and export a framewise (B)LSTM speech tagger.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_training_arguments(
        parser,
        "runs/speech_tagging",
        "corpus folder: .wav + .phn / .TextGrid, or .npz features (train/dev/test subfolders "
        "optional)",
    )
    return parser


def tag_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.speech_tagging tag",
        description="Print the labelled segments (start end label, seconds) of wav files.",
    )
    parser.add_argument("run_dir", help="a finished run folder (holds model.keras)")
    parser.add_argument("wav", nargs="+", help="wav files")
    return add_debug_argument(parser)


def main(argv=None):
    commands = {"tag": tag_main, "export": export_command("speech_tagging")}
    return subcommand_main(argv, commands, train_main)


def train_main(argv):
    from recipes.speech_tagging.config import SpeechTaggingConfig
    from recipes.speech_tagging.job import run

    return train_command(train_parser(), argv, SpeechTaggingConfig, run, summary)


def summary(metrics):
    """Test frame accuracy and PER, beside the baseline's."""
    lines = [f"test utterances: {metrics['utterances']} ({metrics['mode']})"]
    if "frame_accuracy" in metrics:
        accuracy, per = metrics["frame_accuracy"], metrics["per"]
        lines.append(f"{'tagger':>9}: frame accuracy {accuracy:.4f}  PER {per:.4f}")
    else:
        lines.append(f"{'tagger':>9}: PER {metrics['per']:.4f}")
    if "baseline" in metrics:
        test = metrics["baseline"]["test"]
        lines.append(
            f"{'MLP':>9}: frame accuracy {test['frame_accuracy']:.4f}  PER {test['per']:.4f}"
        )
    lines.append(training_summary(metrics["training"]))
    return "\n".join(lines)


def tag_main(argv):
    args = tag_parser().parse_args(argv)
    from recipes.speech_tagging.export import tag_files

    for path, result in zip(args.wav, tag_files(args.run_dir, args.wav)):
        print(f"# {path}")
        if result and isinstance(result[0], str):  # CTC: the label sequence
            print(" ".join(result))
            continue
        for start, end, label in result:
            print(f"{start:.4f}\t{end:.4f}\t{label}")
    return 0
