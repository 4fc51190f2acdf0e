"""The recipe's command line: train (the default), `predict` and `export`."""

import argparse

from recipes.runner.cli import add_debug_argument
from recipes.runner.cli import add_training_arguments
from recipes.runner.cli import export_command
from recipes.runner.cli import positive_int
from recipes.runner.cli import read_input_lines
from recipes.runner.cli import subcommand_main
from recipes.runner.cli import train_command
from recipes.runner.outputs import check_run_folder
from recipes.runner.reports import training_summary

TRAIN_EPILOG = """examples:
  python -m recipes.text_classification --out runs/text_classification
  python -m recipes.text_classification --data reviews.csv --set cell=lstm --set units=128
  python -m recipes.text_classification --preset recipes/text_classification/presets/lstm.yaml
  python -m recipes.text_classification predict runs/text_classification --input texts.txt
  KERAS_BACKEND=tensorflow python -m recipes.text_classification export runs/text_classification
"""


def train_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.text_classification",
        description="Train, evaluate and export a recurrent text classifier.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_training_arguments(
        parser,
        "runs/text_classification",
        "CSV/TSV/JSONL file, class-folder tree, or a folder of train/dev/test",
    )
    return parser


def predict_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.text_classification predict",
        description="Print `label<TAB>probability` for each line of texts.",
    )
    parser.add_argument("run_dir", help="a finished run folder (holds model.keras)")
    parser.add_argument("--input", default="-", help="text file, one text per line (- = stdin)")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    return add_debug_argument(parser)


def main(argv=None):
    commands = {"predict": predict_main, "export": export_command("text_classification")}
    return subcommand_main(argv, commands, train_main)


def train_main(argv):
    from recipes.text_classification.config import TextClassificationConfig
    from recipes.text_classification.job import run

    return train_command(train_parser(), argv, TextClassificationConfig, run, summary)


def summary(metrics):
    """The test results, and the baseline's beside them, as a small table."""
    lines = [f"test examples: {metrics['examples']}", f"{'':28}accuracy  macro_f1"]
    lines.append(f"{'recipe':28}{metrics['accuracy']:8.4f}  {metrics['macro_f1']:8.4f}")
    if "baseline" in metrics:
        baseline = metrics["baseline"]["test"]
        lines.append(
            f"{'TF-IDF + logistic regression':28}{baseline['accuracy']:8.4f}  "
            f"{baseline['macro_f1']:8.4f}"
        )
    lines.append(training_summary(metrics["training"]))
    return "\n".join(lines)


def predict_main(argv):
    args = predict_parser().parse_args(argv)
    check_run_folder(args.run_dir)  # before waiting for stdin
    texts = read_input_lines(args.input)
    from recipes.text_classification.export import predict_texts

    labels, probabilities = predict_texts(args.run_dir, texts, args.batch_size)
    for label, row in zip(labels, probabilities):
        print(f"{label}\t{float(row.max()):.4f}")
    return 0
