"""Runs serving code where neither the toolkit nor Keras can be imported.

`serve_without_toolkit(directory, body, *args)` writes `body` into a script
that first blocks `keras` and `toolkit` (`import keras` raises ImportError:
plain `import tensorflow` would otherwise load Keras on its own, and the
point is that a SavedModel needs neither), imports only NumPy and
TensorFlow, runs it in a fresh interpreter with `sys.argv[1] = directory`,
and checks that it succeeded and loaded no Keras or toolkit module.
"""

import json
import subprocess
import sys
import textwrap

PRELUDE = """\
import json
import sys

sys.modules["keras"] = None
sys.modules["toolkit"] = None

import numpy as np
import tensorflow as tf

directory = sys.argv[1]
"""

REPORT = """
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(json.dumps({
    "toolkit": [m for m in loaded if m == "toolkit" or m.startswith("toolkit.")],
    "keras": [m for m in loaded if m == "keras" or m.startswith("keras.")],
}))
"""


def serve_without_toolkit(directory, body, *args):
    script = directory / "serve.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + REPORT)
    completed = subprocess.run(
        [sys.executable, str(script), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=directory,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    modules = json.loads(completed.stdout.strip().splitlines()[-1])
    assert modules["toolkit"] == [], modules["toolkit"]
    assert modules["keras"] == [], modules["keras"][:10]
