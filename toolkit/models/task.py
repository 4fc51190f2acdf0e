"""What every task model shares: keras-hub's `Task` shape, on public Keras API.

A task is a functional `keras.Model` (token ids -> outputs) that holds a
`backbone` and a `preprocessor`. `fit`, `evaluate` and `predict` take raw
inputs (strings): they batch them into a `tf.data.Dataset`, map
`preprocess_samples` over it, and hand Keras a dataset of token ids, so the
string work runs in TensorFlow and the model on any backend. Integer inputs
(token ids already) and datasets of them go to Keras unchanged.
"""

import keras
import numpy as np

from toolkit.data.datasets import without_autotuning
from toolkit.models.presets import load_task_preset
from toolkit.models.presets import save_task_preset


def _is_dataset(x):
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _holds_strings(x):
    """Whether `x` (not a dataset) is text: strings, bytes, or arrays / tensors of them."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (list, tuple)):
        return bool(x) and isinstance(x[0], (str, bytes))
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "US":
            return True
        return x.dtype.kind == "O" and x.size > 0 and isinstance(x.flat[0], (str, bytes))
    dtype = getattr(x, "dtype", None)  # tf.string tensors, "string" KerasTensors
    return dtype is not None and "string" in str(dtype)


def _dataset_holds_strings(dataset):
    import tensorflow as tf

    spec = dataset.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(x_spec, tf.TensorSpec) or x_spec.dtype != tf.string:
        return False
    if x_spec.shape.rank == 0:
        raise ValueError(
            "Argument `x` expected a batched tf.data.Dataset (texts of shape (batch,)). "
            "Received: a dataset of single texts; call `.batch(batch_size)` on it"
        )
    return True


def _text_tensor(x):
    """A `tf.string` tensor of a list, array or tensor of texts, checked element by element."""
    import tensorflow as tf

    if isinstance(x, tf.Tensor):
        return x
    texts = list(np.asarray(x, dtype=object).reshape(-1)) if isinstance(x, np.ndarray) else list(x)
    for index, text in enumerate(texts):
        if not isinstance(text, (str, bytes)):
            raise ValueError(
                f"Argument `x` expected texts (strings). Received: x[{index}]={text!r} "
                f"of type {type(text).__name__}"
            )
    return tf.constant(texts, dtype=tf.string, shape=[len(texts)])


def _split_for_validation(arrays, validation_split):
    """Keras' rule: the last `validation_split` of the examples, before any shuffling."""
    count = len(arrays[0])
    split_at = int(np.floor(count * (1.0 - validation_split)))
    if split_at in (0, count):
        raise ValueError(
            f"Argument `validation_split` leaves no training or no validation example "
            f"of {count}. Received: validation_split={validation_split!r}"
        )

    def part(start, stop):
        return tuple(None if a is None else a[start:stop] for a in arrays)

    return part(0, split_at), part(split_at, count)


class FunctionalAttributes:
    """Lets a functional model set its sublayers as attributes before `super().__init__`.

    The task models (and `RecurrentTextBackbone`) build their layers, set them
    as attributes, call them on `keras.Input`s and only then call
    `keras.Model.__init__(inputs=..., outputs=...)`, as keras-hub's do. On the
    torch backend a Keras layer is a `torch.nn.Module`, and torch refuses a
    module attribute before `Module.__init__` ran ("cannot assign module
    before Module.__init__() call"). Until then the attribute goes into the
    instance's `__dict__` directly (keras-hub's `Backbone` and `Task` do the
    same): the functional graph holds every layer, so the model still tracks
    their weights (Keras' torch layers collect all variables, sublayers'
    included, as their `torch_params`) and `.keras` saving still finds them by
    attribute. Other backends, and attributes set after `__init__`, take the
    usual path. Put it before `keras.Model` among the bases.
    """

    def __setattr__(self, name, value):
        if keras.config.backend() == "torch" and "_modules" not in self.__dict__:
            # torch.nn.Module.__init__ makes `_modules`: not run yet.
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)


class Task(FunctionalAttributes, keras.Model):
    """Base of the toolkit's task models: backbone, preprocessor, raw-input verbs.

    Subclasses build `self.backbone`, set `self.preprocessor` and call
    `super().__init__(inputs=..., outputs=...)` (a functional model, as in
    keras-hub). `preprocessor = None` turns the automatic preprocessing off.
    """

    # Constructor arguments that give the task a new head: `from_preset` with
    # one of them loads only the backbone's weights (keras-hub's rule).
    head_arguments = ()

    @property
    def preprocessor(self):
        """The layer that turns raw inputs into the model's inputs, or `None`."""
        return self.__dict__.get("_preprocessor")

    def __setattr__(self, name, value):
        if name == "preprocessor":
            # Held, saved with the model (Keras' saving reads its attributes),
            # but not one of its layers: it runs in tf.data, never in the
            # model's step, and Keras turns `jit_compile="auto"` off for a
            # model holding any layer without XLA support (TextVectorization's
            # StringLookup): a tiny model's JAX `fit` call then ran op by op,
            # 1.2-2 s instead of 8 ms.
            object.__setattr__(self, "_preprocessor", value)
            return
        super().__setattr__(name, value)

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """Raw `(x, y, sample_weight)` -> what the model trains on (in `tf.data`)."""
        if self.preprocessor is None:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        return self.preprocessor(x, y, sample_weight)

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.get("inputs")
        if _holds_strings(inputs):
            raise ValueError(
                f"{type(self).__name__} called on strings: calling the model runs it on "
                "token ids. Use `predict(texts)` (or `fit` / `evaluate`), which "
                "preprocess strings, or call `model(model.preprocessor(texts))`"
            )
        return super().__call__(*args, **kwargs)

    # === Raw inputs -> tf.data ===

    def _wants_preprocessing(self, x):
        if self.preprocessor is None:
            return False
        return _dataset_holds_strings(x) if _is_dataset(x) else _holds_strings(x)

    def _raw_dataset(self, x, y, sample_weight, batch_size, shuffle=False):
        """A batched, preprocessed `tf.data.Dataset` of raw `x` (strings, or a dataset)."""
        import tensorflow as tf

        if _is_dataset(x):
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"Argument `{name}` expected None when `x` is a tf.data.Dataset "
                        f"(its elements hold them). Received: {name} of type "
                        f"{type(value).__name__}"
                    )
            if batch_size is not None:
                raise ValueError(
                    "Argument `batch_size` expected None when `x` is a tf.data.Dataset "
                    f"(batch the dataset). Received: batch_size={batch_size!r}"
                )
            dataset = x
        else:
            arrays = [_text_tensor(x)]
            for value in (y, sample_weight):
                if value is not None:
                    arrays.append(np.asarray(value))
            count = len(arrays[0])
            if any(len(a) != count for a in arrays[1:]):
                raise ValueError(
                    "Arguments `x`, `y` and `sample_weight` expected one entry per text. "
                    f"Received: {count} texts and lengths {[len(a) for a in arrays[1:]]}"
                )
            dataset = tf.data.Dataset.from_tensor_slices(tuple(arrays))
            if shuffle:
                dataset = dataset.shuffle(max(count, 1), reshuffle_each_iteration=True)
            dataset = dataset.batch(batch_size or 32)
        dataset = dataset.map(self.preprocess_samples, num_parallel_calls=tf.data.AUTOTUNE)
        return without_autotuning(dataset.prefetch(tf.data.AUTOTUNE))

    def _validation_dataset(self, validation_data, batch_size):
        if _is_dataset(validation_data):
            if not self._wants_preprocessing(validation_data):
                return validation_data
            return self._raw_dataset(validation_data, None, None, None)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(tuple(validation_data))
        if not self._wants_preprocessing(x):
            return validation_data
        return self._raw_dataset(x, y, sample_weight, batch_size)

    # === Keras verbs on raw inputs ===

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        **kwargs,
    ):
        """`keras.Model.fit`, also on raw texts: a list or array of strings with
        `y`, or a batched `tf.data.Dataset` of `(texts, labels)`.

        Raw texts are shuffled every epoch when `shuffle` (as Keras shuffles
        arrays; a dataset keeps its own order), batched by `batch_size`
        (default 32) and preprocessed in `tf.data`. `validation_split` takes
        the last fraction before shuffling, as Keras does.
        """
        common = dict(
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            class_weight=class_weight,
            **kwargs,
        )
        if not self._wants_preprocessing(x):
            if validation_data is not None:  # raw-text validation beside token-id training
                validation_data = self._validation_dataset(validation_data, batch_size)
            return super().fit(
                x,
                y,
                batch_size=batch_size,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                sample_weight=sample_weight,
                **common,
            )
        if validation_split and validation_data is None:
            if _is_dataset(x):
                raise ValueError(
                    "Argument `validation_split` expected 0 when `x` is a tf.data.Dataset "
                    f"(pass `validation_data`). Received: validation_split={validation_split!r}"
                )
            (x, y, sample_weight), validation_data = _split_for_validation(
                (list(x), y, sample_weight), validation_split
            )
        dataset = self._raw_dataset(x, y, sample_weight, batch_size, shuffle=shuffle)
        if validation_data is not None:
            validation_data = self._validation_dataset(validation_data, batch_size)
        return super().fit(dataset, validation_data=validation_data, shuffle=False, **common)

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        **kwargs,
    ):
        """`keras.Model.evaluate`, also on raw texts (as `fit` takes them)."""
        common = dict(
            verbose=verbose, steps=steps, callbacks=callbacks, return_dict=return_dict, **kwargs
        )
        # Keras' `fit` evaluates its validation data, preprocessed by `fit`
        # already, with this flag.
        if kwargs.get("_use_cached_eval_dataset") or not self._wants_preprocessing(x):
            return super().evaluate(
                x, y, batch_size=batch_size, sample_weight=sample_weight, **common
            )
        return super().evaluate(self._raw_dataset(x, y, sample_weight, batch_size), **common)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """`keras.Model.predict`, also on raw texts; no texts give 0 rows."""
        common = dict(verbose=verbose, steps=steps, callbacks=callbacks)
        if not _is_dataset(x) and len(x) == 0:
            return self._no_rows()
        if not self._wants_preprocessing(x):
            return super().predict(x, batch_size=batch_size, **common)
        return super().predict(self._raw_dataset(x, None, None, batch_size), **common)

    def _no_rows(self):
        return np.zeros((0, *self.output_shape[1:]), dtype=self.outputs[0].dtype)

    def predict_on_batch(self, x):
        if len(x) == 0:
            return self._no_rows()
        if self._wants_preprocessing(x):
            x = self.preprocessor(x)
        return super().predict_on_batch(x)

    def train_on_batch(self, x, y=None, sample_weight=None, **kwargs):
        if self._wants_preprocessing(x):
            x = self.preprocessor(x)
        return super().train_on_batch(x, y, sample_weight=sample_weight, **kwargs)

    def test_on_batch(self, x, y=None, sample_weight=None, **kwargs):
        if self._wants_preprocessing(x):
            x = self.preprocessor(x)
        return super().test_on_batch(x, y, sample_weight=sample_weight, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for a model whose `compile` is its own (and warns),
        # which left a loaded model uncompiled, its optimizer state unread.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # === Presets ===

    def save_to_preset(self, preset_dir):
        """Writes the task to a local preset folder (keras-hub's layout).

        `task.json` and `task.weights.h5` (the task), `config.json` and
        `model.weights.h5` (the backbone), `preprocessor.json` (and tokenizer
        assets), `metadata.json`.

        Args:
            preset_dir: Path of a local folder, created if missing; files of
                an earlier preset there are replaced.
        """
        save_task_preset(self, preset_dir)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True, **kwargs):
        """The task saved in a local preset folder by `save_to_preset`.

        Args:
            preset_dir: Path of a local preset folder.
            load_weights: Boolean (default `True`); `False` gives fresh weights.
            **kwargs: Constructor arguments that replace the saved ones. A new
                head (`num_classes` for a classifier) loads the backbone's
                weights only, as keras-hub does.

        Returns:
            The task, compiled with its defaults.
        """
        new_head = any(name in kwargs for name in cls.head_arguments)
        return load_task_preset(cls, preset_dir, load_weights, new_head=new_head, **kwargs)
