"""The recipe's command line: train (the default) and `translate`."""

import argparse
import sys

from recipes.runner import ConfigError
from recipes.runner import load_config
from recipes.runner.training import STRATEGIES

EPILOG = """examples:
  python -m recipes.translation --out runs/translation
  python -m recipes.translation --data deu.txt --set attention=bahdanau --set cell=lstm
  python -m recipes.translation --data corpus/ --set source_language=en --set target_language=de
  python -m recipes.translation translate runs/translation --input sentences.txt
"""


def train_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.translation",
        description="Train, score and export an attentional RNN translator.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/translation", help="output folder")
    parser.add_argument("--data", help="TSV file, aligned-file prefix, or a train/dev/test folder")
    parser.add_argument("--preset", help="YAML file of config fields")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    parser.add_argument("--max-train-minutes", type=float, help="wall-clock budget for fit")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed float16/bfloat16")
    parser.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy")
    return parser


def translate_parser():
    parser = argparse.ArgumentParser(
        prog="python -m recipes.translation translate",
        description="Print the translation of each line of a file or stdin.",
    )
    parser.add_argument("run_dir", help="a finished run folder (holds model.keras)")
    parser.add_argument("--input", default="-", help="one sentence per line (- = stdin)")
    parser.add_argument("--beam-width", type=int, help="1 = greedy (default: the run's config)")
    parser.add_argument("--batch-size", type=int, default=64)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["translate"]:
        return translate_main(argv[1:])
    if argv[:1] == ["train"]:
        argv = argv[1:]
    return train_main(argv)


def train_main(argv):
    from recipes.translation.config import TranslationConfig

    parser = train_parser()
    args = parser.parse_args(argv)
    overrides = list(args.set)
    if args.data is not None:
        overrides.append(f"data={args.data}")
    if args.max_train_minutes is not None:
        overrides.append(f"max_train_minutes={args.max_train_minutes}")
    if args.mixed_precision:
        overrides.append("mixed_precision=true")
    if args.strategy is not None:
        overrides.append(f"strategy={args.strategy}")
    try:
        config = load_config(TranslationConfig, args.preset, overrides)
    except ConfigError as error:
        parser.error(str(error))

    from recipes.translation.job import run

    metrics = run(config, args.out)
    print(summary(metrics))
    if "outputs" in metrics:
        print(f"Did not write {args.out}/: {metrics['outputs']}")
    else:
        print(f"Wrote {args.out}/")
    return 0


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
    training = metrics["training"]
    lines.append(
        f"trained {training['epochs_run']} epochs in {training['seconds']} s"
        + (" (stopped by the time budget)" if training["stopped_by_time_budget"] else "")
    )
    for example in metrics["examples"][:3]:
        lines += [f"  source:      {example['source']}", f"  translation: {example['translation']}"]
    return "\n".join(lines)


def translate_main(argv):
    parser = translate_parser()
    args = parser.parse_args(argv)
    if args.beam_width is not None and args.beam_width < 1:
        parser.error(f"--beam-width expected a positive integer. Received: {args.beam_width}")
    if args.input == "-":
        texts = sys.stdin.read().splitlines()
    else:
        with open(args.input, encoding="utf-8") as file:
            texts = file.read().splitlines()
    from recipes.translation.export import translate_texts

    for translation in translate_texts(args.run_dir, texts, args.beam_width, args.batch_size):
        print(translation)
    return 0
