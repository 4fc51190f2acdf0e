"""The shared recipe runner: config, output folders, and what `model.fit` needs.

Each recipe (`recipes.text_classification`, ...) declares a config dataclass
and a `run(config, out_dir)`; the runner gives it YAML presets with checked
`--set key=value` overrides (`config`), all-or-nothing output folders
(`outputs`), strategies (with `distributed`'s fix that lets `fit` run
under several workers), precision and the callbacks for early stopping,
best-checkpoint selection, the wall-clock budget and logs (`training`).
The recipes' command lines share `cli`. What measurements share (what they
ran on, interleaved rounds of timed calls) is in `toolkit.runtime.machine`
and `toolkit.runtime.timing`, where the study and `benchmarks/` both reach it.
"""

from recipes.runner.config import ConfigError
from recipes.runner.config import config_to_dict
from recipes.runner.config import load_config
from recipes.runner.distributed import is_chief
from recipes.runner.distributed import local_copy
from recipes.runner.distributed import prepare_model_for_strategy
from recipes.runner.distributed import run_as_chief_or_worker
from recipes.runner.distributed import strategy_scope
from recipes.runner.outputs import staged_output
from recipes.runner.training import WallClockBudget
from recipes.runner.training import fit_callbacks
from recipes.runner.training import make_optimizer
from recipes.runner.training import make_strategy
from recipes.runner.training import planned_epochs
from recipes.runner.training import restore_best
from recipes.runner.training import set_precision

__all__ = [
    "ConfigError",
    "config_to_dict",
    "load_config",
    "is_chief",
    "local_copy",
    "run_as_chief_or_worker",
    "strategy_scope",
    "prepare_model_for_strategy",
    "staged_output",
    "WallClockBudget",
    "fit_callbacks",
    "make_optimizer",
    "make_strategy",
    "planned_epochs",
    "restore_best",
    "set_precision",
]
