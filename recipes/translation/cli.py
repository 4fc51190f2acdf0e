"""The recipe's command line: train (the default) and `translate`."""

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

EPILOG = """examples:
  python -m recipes.translation --out runs/translation
  python -m recipes.translation --data deu.txt --set attention=bahdanau --set cell=lstm
  python -m recipes.translation --data corpus/ --set source_language=en --set target_language=de
  python -m recipes.translation translate runs/translation --input sentences.txt
  KERAS_BACKEND=tensorflow python -m recipes.translation export runs/translation
"""


def train_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.translation",
        description="Train, score and export an attentional RNN translator.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_training_arguments(
        parser, "runs/translation", "TSV file, aligned-file prefix, or a train/dev/test folder"
    )
    return parser


def translate_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.translation translate",
        description="Print the translation of each line of a file or stdin.",
    )
    parser.add_argument("run_dir", help="a finished run folder (holds model.keras)")
    parser.add_argument("--input", default="-", help="one sentence per line (- = stdin)")
    parser.add_argument(
        "--beam-width", type=positive_int, help="1 = greedy (default: the run's config)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=64)
    return add_debug_argument(parser)


def main(argv=None):
    commands = {"translate": translate_main, "export": export_command("translation")}
    return subcommand_main(argv, commands, train_main)


def train_main(argv):
    from recipes.translation.config import TranslationConfig
    from recipes.translation.job import run

    return train_command(train_parser(), argv, TranslationConfig, run, summary)


def summary(metrics):
    """Test BLEU / chrF with beam search and greedy, and a few examples."""
    decoding = metrics["decoding"]
    search = "greedy" if decoding["search"] == "greedy" else f"beam {decoding['beam_width']}"
    lines = [
        f"test pairs: {metrics['pairs']}",
        f"{search:>8}: BLEU {metrics['bleu']:.2f}  chrF {metrics['chrf']:.2f}",
        f"{'greedy':>8}: BLEU {metrics['greedy']['bleu']:.2f}  "
        f"chrF {metrics['greedy']['chrf']:.2f}",
        f"({metrics['bleu_signature']})",
    ]
    lines.append(training_summary(metrics["training"]))
    for example in metrics["examples"][:3]:
        lines += [f"  source:      {example['source']}", f"  translation: {example['translation']}"]
    return "\n".join(lines)


def translate_main(argv):
    parser = translate_parser()
    args = parser.parse_args(argv)
    check_run_folder(args.run_dir)  # before waiting for stdin
    texts = read_input_lines(args.input)
    from recipes.translation.export import translate_texts

    for translation in translate_texts(args.run_dir, texts, args.beam_width, args.batch_size):
        print(translation)
    return 0
