"""Makes Keras 3 `fit`/`evaluate` work under a multi-worker `tf.distribute` strategy.

Keras 3.15 (TensorFlow backend) cannot run `model.fit` or `model.evaluate`
under `tf.distribute.MultiWorkerMirroredStrategy` once the cluster has more
than one worker (upstream keras-team/keras#20585). Two places in
`keras/src/backend/tensorflow/trainer.py` break:

1. `TensorFlowTrainer._maybe_symbolic_build` takes the first distributed
   batch `(x, y)` and calls `strategy.reduce("MEAN", batch, axis=None)` on
   the whole tuple, only to learn the input shapes. `Strategy.reduce` does
   not accept a nest; the collective strategy tries `convert_to_tensor` on
   the tuple of `PerReplica` values and fails with "Attempt to convert a
   value (PerReplica...) with an unsupported type".
2. `reduce_per_replica(..., reduction="auto")`, applied to what each step
   returns, reduces every log with `strategy.reduce("MEAN", value, axis=0)`
   in multi-worker mode. The logs are scalars (the loss, metric results), so
   this fails with "Invalid reduction dimension 0 for input with 0
   dimensions".

`prepare_model_for_strategy` works around both on one model instance, with
no change to Keras itself or to other models:

1. It gives the instance its own `_maybe_symbolic_build`, which builds the
   model from this worker's first local replica batch (only shapes and
   dtypes matter there, so no cross-worker communication is needed).
2. It wraps the instance's `train_step` and `test_step` (the public
   customization points of `fit`/`evaluate`) so that each returned log gets
   a leading axis of length 1. Keras's `reduce(..., axis=0)` then averages
   the log across all replicas and returns it with its original shape, which
   is what `reduce_per_replica` does for single-worker strategies.

Gradients are unaffected: the optimizer all-reduces them across workers as
usual, so every worker ends with the same weights. `model.predict` needs no
fix (it concatenates per-replica outputs with `strategy.gather`).

Limits: metric results are averaged over the replicas, as Keras does for
`MirroredStrategy` (exact for the loss and for means such as MAE when every
replica sees as many samples; an approximation for non-linear metrics such
as R2). `steps_per_execution` must stay 1: Keras's multi-step
`tf.while_loop` fails under a multi-worker strategy on its own ("You must
feed a value for placeholder tensor"), so the prepared model raises a clear
error instead.

For any other strategy (default, `MirroredStrategy`, a one-worker
`MultiWorkerMirroredStrategy`) the model is returned unchanged. Remove this
module once the upstream bug is fixed.
"""

import contextlib
import pathlib
import shutil
import tempfile
import types

import keras

from recipes.runner.outputs import check_out_dir
from recipes.runner.training import make_strategy

# Attribute set on a prepared model, so that a second call is a no-op.
_PREPARED = "_recipes_multi_worker_prepared"


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` over several workers.

    This is exactly when Keras takes the broken multi-worker code paths.
    """
    if strategy is None or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    if in_multi_worker_mode is not None:
        return bool(in_multi_worker_mode())
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return len(cluster.get("worker", ())) + len(cluster.get("chief", ())) > 1


def prepare_model_for_strategy(model, strategy):
    """Lets `model.fit`/`evaluate` run under a multi-worker strategy (keras#20585).

    Call it once per model, after building (or at least creating) the model
    under `strategy.scope()` and before `fit`/`evaluate`; `compile` may come
    before or after. It only changes this model instance, and only when
    `strategy` is a `tf.distribute.MultiWorkerMirroredStrategy` whose cluster
    has more than one worker; otherwise it does nothing. See the module
    docstring for the upstream bug and what the override does.

    A `train_step`/`test_step` override on the model's class is kept: the
    wrapper calls it and only reshapes the logs it returns, so those must be a
    (nested) structure of tensors, as Keras requires anyway.

    Args:
        model: A `keras.Model` created under `strategy.scope()`.
        strategy: The `tf.distribute.Strategy` it will train under, e.g.
            from `make_strategy("multiworker")`; `None` is allowed.

    Returns:
        `model`, for chaining.
    """
    if not is_multi_worker(strategy) or getattr(model, _PREPARED, False):
        return model
    import tensorflow as tf

    def local_first(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Same as TensorFlowTrainer._maybe_symbolic_build, except that a
        # distributed batch is reduced to this worker's first replica batch
        # instead of calling `strategy.reduce` on the whole nest.
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = next(batches)
                break
        data_batch = keras.tree.map_structure(local_first, data_batch)
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def with_replica_axis(logs):
        return keras.tree.map_structure(
            lambda value: tf.expand_dims(tf.convert_to_tensor(value), 0), logs
        )

    train_step = model.train_step
    test_step = model.test_step

    def check_steps_per_execution():
        if (model.steps_per_execution or 1) > 1:
            raise ValueError(
                "Keras runs several steps per execution in a `tf.while_loop` "
                "that fails under a multi-worker strategy; compile the model "
                "with `steps_per_execution=1`. Received: "
                f"steps_per_execution={model.steps_per_execution}"
            )

    def multi_worker_train_step(data):
        check_steps_per_execution()
        return with_replica_axis(train_step(data))

    def multi_worker_test_step(data):
        check_steps_per_execution()
        return with_replica_axis(test_step(data))

    # Layer.__setattr__ tracks attributes; plain functions and bound methods
    # are not trackable, so these become ordinary instance attributes that
    # shadow the class methods for this model only.
    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)
    model.train_step = multi_worker_train_step
    model.test_step = multi_worker_test_step
    # Step functions built before this call captured the old steps.
    model.train_function = None
    model.test_function = None
    setattr(model, _PREPARED, True)
    return model


def is_chief(strategy):
    """Whether this process writes the run's outputs under `strategy`.

    Every process is the chief except the non-chief workers of a multi-worker
    cluster: with a `chief` task in `TF_CONFIG` that task is the chief, else
    worker 0. The other workers train in step with it (they must take part
    in every all-reduce) but write their outputs to a scratch folder only.
    """
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def run_as_chief_or_worker(run, config, out_dir):
    """Calls `run(config, out_dir, strategy)` with the config's strategy.

    The strategy is made first, before TensorFlow runs any op (a multi-worker
    strategy must configure its collective ops at program start). The chief
    writes `out_dir`; another worker of a cluster trains in step with it but
    writes into a scratch folder that is removed afterwards, and its returned
    metrics say so under `"outputs"`. `out_dir` is checked before anything
    runs (`check_out_dir`: a new, empty or earlier run's folder).
    """
    check_out_dir(out_dir)
    strategy = make_strategy(config.strategy)
    if is_chief(strategy):
        return run(config, out_dir, strategy)
    scratch = tempfile.mkdtemp(prefix="recipe-worker-")
    try:
        metrics = run(config, pathlib.Path(scratch) / "run", strategy)
        return {**metrics, "outputs": "discarded: this worker is not the chief"}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context without a strategy (JAX)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def local_copy(model, strategy_name):
    """The trained model, copied outside the strategy unless it is `"default"`.

    Under several workers `predict` gathers every worker's copy of a batch;
    evaluating and exporting a local copy gives one result per example. A
    functional model is cloned; a task model is rebuilt from its config.
    """
    if strategy_name == "default":
        return model
    if type(model).__name__ in ("Functional", "Sequential"):
        copy = keras.models.clone_model(model)
    else:
        # A task model (`toolkit.models.TextClassifier`): Keras 3.15's `clone_model`
        # turns a subclass of a functional model into a plain functional one,
        # losing its class and preprocessor; its config rebuilds it whole.
        copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy
