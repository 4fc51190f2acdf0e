"""The training flags every recipe's command line shares."""

import argparse
import importlib
import pathlib
import sys

from recipes.runner.config import load_config
from recipes.runner.errors import DEBUG_HELP
from recipes.runner.exporting import record_later_export
from recipes.runner.outputs import check_run_folder
from recipes.runner.training import STRATEGIES
from toolkit.data.files import decode
from toolkit.data.files import read_bytes
from toolkit.data.files import split_lines
from toolkit.runtime import reuse_freed_memory


def positive_int(text):
    """An `argparse` type: a positive integer, or an error naming the value received."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {text!r}")
    return value


def add_debug_argument(parser):
    """Lists `--debug` in the command's help; `errors.run_command` takes it out of argv."""
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    return parser


def add_training_arguments(parser, default_out, data_help):
    """Adds `--out --data --preset --set --max-train-minutes --mixed-precision --strategy`."""
    parser.add_argument("--out", default=default_out, help=f"output folder (default {default_out})")
    parser.add_argument("--data", help=data_help)
    parser.add_argument("--preset", help="YAML file of config fields")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    parser.add_argument("--max-train-minutes", type=float, help="wall-clock budget for fit")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed float16/bfloat16")
    parser.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy")
    return add_debug_argument(parser)


def config_from_arguments(config_class, args):
    """The config: defaults, then `--preset`, `--set`, then the flags.

    A bad value raises `ConfigError` (a `UsageError`): the command prints it
    as one `error:` line and exits 2 (`errors.run_command`), without
    argparse's usage block, which says nothing about config values.
    """
    overrides = list(args.set)
    if args.data is not None:
        overrides.append(f"data={args.data}")
    if args.max_train_minutes is not None:
        overrides.append(f"max_train_minutes={args.max_train_minutes}")
    if args.mixed_precision:
        overrides.append("mixed_precision=true")
    if args.strategy is not None:
        overrides.append(f"strategy={args.strategy}")
    return load_config(config_class, args.preset, overrides)


def print_written(metrics, out_dir):
    """Says what the run wrote into `out_dir` (or why this worker wrote nothing)."""
    if "outputs" in metrics:
        print(f"Did not write {out_dir}/: {metrics['outputs']}")
        return
    names = sorted(p.name for p in pathlib.Path(out_dir).iterdir() if not p.name.startswith("."))
    print(f"Wrote {out_dir}/: {' '.join(names)}")


def read_input_lines(path):
    """The lines of a UTF-8 text file, or of stdin for `-`.

    Read as the data readers read (`toolkit.data.files`): a UTF-16 file with
    its byte-order mark reads too, lines end at `\\n`, `\\r\\n` or `\\r`, and
    bytes that are not UTF-8 raise a `DataError` naming the file (or
    `<stdin>`), the line and the byte offset.
    """
    if path == "-":
        if not hasattr(sys.stdin, "buffer"):  # already text (a test's StringIO)
            return split_lines(sys.stdin.read())
        name, data = "<stdin>", sys.stdin.buffer.read()
    else:
        name, data = path, read_bytes(path)
    return split_lines(decode(name, data, "utf-8", fix=INPUT_FIX))


INPUT_FIX = "Convert the input to UTF-8 (e.g. `iconv -f latin1 -t utf-8 FILE`)"


def train_command(parser, argv, config_class, run, summary):
    """Parses training flags, runs the recipe, prints its summary and what it wrote.

    The process keeps freed tensor memory for reuse (`toolkit.runtime.reuse_freed_memory`):
    on a 2-core CPU the speech-tagging recipe's default run trained in 80.5 s instead
    of 152.8 s.
    """
    args = parser.parse_args(argv)
    reuse_freed_memory()
    config = config_from_arguments(config_class, args)
    metrics = run(config, args.out)
    print(summary(metrics))
    print_written(metrics, args.out)
    return 0


def subcommand_main(argv, commands, train):
    """Runs `commands[argv[0]](argv[1:])`, or `train(argv)` (`train` may be named first).

    `argv` defaults to `sys.argv[1:]`; `commands` maps subcommand names to their
    `main(argv)` functions.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in commands:
        reuse_freed_memory()  # serving commands too; `train` calls `train_command`, which does
        return commands[argv[0]](argv[1:])
    if argv[:1] == ["train"]:
        argv = argv[1:]
    return train(argv)


def export_command(recipe):
    """The `export RUN_DIR` subcommand of `recipes.<recipe>`: `<recipe>.export.export_run`."""

    def export_main(argv):
        parser = argparse.ArgumentParser(
            prog=f"KERAS_BACKEND=tensorflow python -m recipes.{recipe} export",
            description="(Re)write RUN_DIR/saved_model/ from a finished run folder, e.g. one "
            "trained with JAX (the SavedModel is built with the TensorFlow backend).",
        )
        parser.add_argument("run_dir", help="a finished run folder (holds model.keras)")
        add_debug_argument(parser)
        args = parser.parse_args(argv)
        check_run_folder(args.run_dir)  # says so on any backend, before asking for TensorFlow
        export_run = importlib.import_module(f"recipes.{recipe}.export").export_run
        print(f"Wrote {export_run(args.run_dir)}")
        record_later_export(args.run_dir)  # metrics.json said "not written"
        return 0

    return export_main
