"""One error path for every command: a user's mistake is one line, a bug a traceback.

`run_command(main)` runs a command's `main(argv)` and turns its end into an
exit status and at most one line on stderr:

- 0: it succeeded (`main` returned 0).
- 2: an expected error, something the user can fix: a bad flag (argparse
  prints its usage line), a bad config value (`ConfigError`), a data file
  that cannot be read as asked (`toolkit.data.DataError`, naming the file and
  line), an `--out` or run folder that cannot be used (`UsageError`), or a
  file that cannot be opened (an `OSError` naming it). One `error:` line.
- 130 / 143: stopped by Ctrl-C / SIGTERM; one line. A run writes its output
  into a hidden staging folder that only a completed run renames into
  place, so a stopped run leaves `--out` as it was.
- 1: anything else is a bug: Python's traceback, as usual.

`--debug` anywhere on the command line (or `RECIPES_DEBUG=1` in the
environment) shows the traceback of an expected error too.
"""

import contextlib
import os
import signal
import sys
import threading
import traceback

from toolkit.data import DataError

DEBUG_FLAG = "--debug"
DEBUG_VARIABLE = "RECIPES_DEBUG"
USAGE_ERROR = 2
DEBUG_HELP = f"show the traceback of an expected error too (or set {DEBUG_VARIABLE}=1)"


class UsageError(ValueError):
    """A command asked for something it cannot do: a folder that is not a run,
    an `--out` it may not replace, a backend the command needs. Exit status 2."""


class Stopped(BaseException):
    """A signal asked the process to end (SIGTERM); unwinds like `KeyboardInterrupt`.

    A `BaseException`, so `except Exception` blocks let it through and the
    `finally` and `except BaseException` blocks (staging folders) run.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def reading_data():
    """Makes a plain `ValueError` raised while a recipe reads its data a `DataError`.

    A recipe passes its config's values (`encoding`, `text_column`, ...)
    straight to the `toolkit.data` readers, whose argument checks raise
    `ValueError`s naming the argument: in a recipe those are the user's
    settings, not a bug.
    """
    try:
        yield
    except DataError:
        raise
    except ValueError as error:
        if isinstance(error, UsageError):
            raise
        raise DataError(str(error)) from error


def expected_error_message(error):
    """The one line for an expected error, or `None` for an unexpected one."""
    if isinstance(error, (UsageError, DataError)):  # `ConfigError` is a `UsageError`
        return str(error)
    if isinstance(error, UnicodeDecodeError):  # a reader that did not name its file
        return f"cannot read a file as UTF-8 text ({error})"
    if isinstance(error, OSError) and error.filename is not None:
        what = error.strerror or type(error).__name__
        names = [error.filename] + ([error.filename2] if error.filename2 else [])
        return f"{what}: {' -> '.join(map(str, names))}"
    if isinstance(error, MemoryError):
        return "out of memory: try a smaller --set batch_size=... or a smaller model"
    return None


def debug_requested(argv):
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def run_command(main, argv=None, prog=None):
    """Runs `main(argv)` and returns its exit status (see the module docstring).

    Args:
        main: The command's `main(argv)`, returning 0 on success.
        argv: The arguments; `None` means `sys.argv[1:]`, and then the first
            SIGTERM unwinds the process as `Stopped` (`end_cleanly_on_sigterm`).
            `--debug` is taken out before `main` sees it.
        prog: The name printed before the error line, as argparse's `prog`
            (`"python -m recipes.text_classification"`).

    Returns:
        The exit status: 0, 2 (an expected error), 130 / 143 (Ctrl-C /
        SIGTERM). A bug propagates with its traceback (status 1).
    """
    if argv is None:
        argv = sys.argv[1:]
        end_cleanly_on_sigterm()
    argv = list(argv)
    debug = debug_requested(argv)
    argv = [arg for arg in argv if arg != DEBUG_FLAG]
    prog = prog or os.path.basename(sys.argv[0] or "python")
    try:
        return main(argv)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{prog}: stopped by Ctrl-C; {_LEFT_AS_IT_WAS}", file=sys.stderr)
        return 128 + signal.SIGINT
    except Stopped as stopped:
        if debug:
            traceback.print_exc()
        name = signal.Signals(stopped.signum).name
        print(f"{prog}: stopped by {name}; {_LEFT_AS_IT_WAS}", file=sys.stderr)
        return 128 + stopped.signum
    except Exception as error:
        message = expected_error_message(error)
        if message is None:
            raise
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {message}", file=sys.stderr)
        return USAGE_ERROR


_LEFT_AS_IT_WAS = "nothing was written (an unfinished run leaves its --out as it was)"


def end_cleanly_on_sigterm():
    """Makes the first SIGTERM (`timeout`, a job scheduler) raise `Stopped`.

    By default SIGTERM ends the process at once, leaving the hidden staging
    folder of a run (`staged_output`) behind; raised as an exception, it
    unwinds like Ctrl-C, and the staging folder is removed. A second SIGTERM
    ends the process at once, as before (the first may wait for a long
    TensorFlow op to return). Only from the main thread; elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Stopped(signum)

    signal.signal(signal.SIGTERM, handler)
