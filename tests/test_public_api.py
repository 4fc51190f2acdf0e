"""Everything exported from `toolkit` is documented, and its examples run."""

import doctest
import inspect
import sys

import keras
import pytest

import toolkit

PUBLIC = [
    (module.__name__, name, getattr(module, name))
    for module in (
        toolkit.cells,
        toolkit.layers,
        toolkit.losses,
        toolkit.attention,
        toolkit.decoding,
        toolkit.data,
        toolkit.inspect,
        toolkit.features,
        toolkit.runtime,
        toolkit.models,
        toolkit.export,
    )
    for name in module.__all__
]


@pytest.mark.parametrize("module, name, obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_object_is_documented_with_a_running_example(module, name, obj):
    docstring = obj.__doc__ or ""
    assert docstring.strip(), f"{module}.{name} has no docstring"
    takes_arguments = isinstance(obj, type) or bool(inspect.signature(obj).parameters)
    assert not takes_arguments or "Args:" in docstring or "Attributes:" in docstring, (
        f"{module}.{name} does not document its arguments"
    )
    assert takes_arguments or "Returns:" in docstring, f"{module}.{name} has no Returns:"
    if name == "RecurrentCell":  # abstract base: documented, no runnable example
        return
    assert "Example" in docstring, f"{module}.{name} has no example"
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    # As `doctest.testmod` does: the example sees its own module's names.
    tests = finder.find(obj, name, globs=dict(vars(sys.modules[obj.__module__])))
    assert any(test.examples for test in tests), f"{module}.{name} example is not a doctest"
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{module}.{name}: its docstring example fails"


@pytest.mark.parametrize(
    "obj", [obj for _, _, obj in PUBLIC if isinstance(obj, type)], ids=lambda obj: obj.__name__
)
def test_public_classes_are_registered_serializable(obj):
    if issubclass(obj, (keras.layers.Layer, keras.losses.Loss)):
        assert keras.saving.get_registered_name(obj) == f"toolkit>{obj.__name__}"
