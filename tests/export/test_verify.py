"""The op verifier reads every graph of a SavedModel and refuses what TensorFlow alone cannot run.

The SavedModels are written by TensorFlow (`tf.saved_model.save`, and
`model.export` for Keras models with toolkit layers); a refused op is put in
by editing `saved_model.pb`'s protobuf, as no CPU-only tracing makes one.
"""

import io
import shutil

import keras
import pytest

import toolkit
from toolkit.export import SENTENCEPIECE_OPS
from toolkit.export import TOP_LEVEL_GRAPH
from toolkit.export import saved_model_ops
from toolkit.export import verify_saved_model


def _dense_module():
    import tensorflow as tf

    module = tf.Module()
    module.kernel = tf.Variable(tf.ones((3, 2)))
    module.bias = tf.Variable(tf.zeros((2,)))
    module.serve = tf.function(
        lambda x: tf.nn.relu(tf.matmul(x, module.kernel) + module.bias),
        input_signature=[tf.TensorSpec((None, 3), tf.float32)],
    )
    return module


@pytest.fixture(scope="module")
def dense_saved_model(tmp_path_factory):
    """A SavedModel of one dense step: signature `serve`, its function computes relu(x W + b)."""
    import tensorflow as tf

    path = tmp_path_factory.mktemp("dense") / "saved_model"
    module = _dense_module()
    tf.saved_model.save(module, str(path), signatures={"serve": module.serve})
    return path


def _read_proto(path):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    return saved_model


def _copy_with_node(source, destination, op, where):
    """Copies a SavedModel and adds a node of type `op` to the graph `where` names.

    `where` is `"function"` (the function computing the signature's output, which
    holds `MatMul`) or `"top-level"`. Returns the copy and the graph's name.
    """
    shutil.copytree(source, destination)
    saved_model = _read_proto(destination)
    graph_def = saved_model.meta_graphs[0].graph_def
    if where == "top-level":
        name, nodes = TOP_LEVEL_GRAPH, graph_def.node
    else:
        function = next(
            function
            for function in graph_def.library.function
            if any(node.op == "MatMul" for node in function.node_def)
        )
        name, nodes = function.signature.name, function.node_def
    node = nodes.add()
    node.name = f"added_{op}"
    node.op = op
    (destination / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    return destination, name


def test_ops_of_a_hand_built_function_are_counted(dense_saved_model):
    graphs = saved_model_ops(dense_saved_model)
    (name,) = [name for name, ops in graphs.items() if "MatMul" in ops]
    assert name.startswith("__inference_<lambda>")
    step = graphs[name]
    # relu(x W + b), the two variables read once each
    assert {op: step[op] for op in ("MatMul", "AddV2", "Relu", "ReadVariableOp")} == {
        "MatMul": 1,
        "AddV2": 1,
        "Relu": 1,
        "ReadVariableOp": 2,
    }
    # The top-level graph holds the variables and the signature's input and call;
    # the call to a library function is a call, not an op.
    top_level = graphs[TOP_LEVEL_GRAPH]
    assert top_level["VarHandleOp"] == 2
    assert {"Placeholder", "StatefulPartitionedCall"} <= set(top_level)
    assert not set(top_level) & set(graphs)
    # TensorFlow's own list of the ops it saved is covered.
    stripped = _read_proto(dense_saved_model).meta_graphs[0].meta_info_def.stripped_op_list
    assert {op.name for op in stripped.op} <= {op for ops in graphs.values() for op in ops}


def test_a_core_tensorflow_saved_model_passes_with_a_summary(dense_saved_model):
    summary = verify_saved_model(dense_saved_model)
    assert summary["signatures"] == ["serve"]
    assert summary["extra_ops"] == []
    assert summary["ops"]["MatMul"] == 1
    assert summary["ops"]["VarHandleOp"] == 2
    assert list(summary["ops"]) == sorted(summary["ops"])
    expected = {}
    for ops in saved_model_ops(dense_saved_model).values():
        for op, count in ops.items():
            expected[op] = expected.get(op, 0) + count
    assert summary["ops"] == expected


@pytest.mark.tensorflow_only
def test_exported_keras_model_with_toolkit_lstm_and_gru_passes(tmp_path):
    inputs = keras.Input((5, 3))
    x = toolkit.layers.LSTM(4, return_sequences=True)(inputs)
    x = toolkit.layers.GRU(3, go_backwards=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.export(str(tmp_path / "model"), verbose=False)

    summary = verify_saved_model(tmp_path / "model")
    assert summary["signatures"] == ["serve", "serving_default"]
    assert summary["extra_ops"] == []
    assert {"MatMul", "Sigmoid", "Tanh", "BiasAdd"} <= set(summary["ops"])
    assert not [op for op in summary["ops"] if op.startswith(("Cudnn", "Xla"))]
    # The time loop's step is read too: a `While` body holds the recurrent matmul.
    graphs = saved_model_ops(tmp_path / "model")
    loops = {node for ops in graphs.values() for node in ops if node.endswith("While")}
    assert loops
    bodies = [name for name, ops in graphs.items() if "while_body" in name]
    assert bodies and all("MatMul" in graphs[name] for name in bodies)


@pytest.mark.parametrize(
    "op, reason",
    [
        ("CudnnRNN", "a cuDNN op: it runs on NVIDIA GPUs only"),
        ("CudnnRNNV3", "a cuDNN op: it runs on NVIDIA GPUs only"),
        ("XlaCallModule", "an XLA op: it needs XLA compilation"),
        ("XlaSharding", "an XLA op: it needs XLA compilation"),
        ("SentencepieceOp", "not an op of core TensorFlow"),
        ("MadeUpCustomOp", "not an op of core TensorFlow"),
    ],
)
def test_a_refused_op_in_a_signature_function_is_named_with_its_function(
    dense_saved_model, tmp_path, op, reason
):
    path, function = _copy_with_node(dense_saved_model, tmp_path / "edited", op, "function")
    assert saved_model_ops(path)[function][op] == 1
    with pytest.raises(ValueError) as error:
        verify_saved_model(path)
    message = str(error.value)
    assert f"The SavedModel at {path} holds ops" in message
    assert f"  {op} ({reason}) in function '{function}' (signature 'serve')" in message
    assert "Expected core TensorFlow ops only, plus allowed_extra=()." in message
    assert "MatMul" not in message  # only the refused op is named

    summary = verify_saved_model(path, allowed_extra=[op])
    assert summary["extra_ops"] == [op] and summary["ops"][op] == 1


def test_a_refused_op_in_the_top_level_graph_is_named(dense_saved_model, tmp_path):
    path, _ = _copy_with_node(dense_saved_model, tmp_path / "edited", "XlaLaunch", "top-level")
    with pytest.raises(
        ValueError,
        match=r"  XlaLaunch \(an XLA op: it needs XLA compilation\) in the top-level graph\n",
    ):
        verify_saved_model(path, allowed_extra=SENTENCEPIECE_OPS)


def test_sentencepiece_ops_are_named_exactly_and_allowed_only_when_asked(tmp_path):
    import sentencepiece
    import tensorflow as tf
    import tensorflow_text

    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["the cat sat on the mat", "a dog ran to the park"] * 4),
        model_writer=proto,
        vocab_size=20,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    module = tf.Module()
    module.tokenizer = tensorflow_text.SentencepieceTokenizer(model=proto.getvalue())
    text = tf.TensorSpec([None], tf.string)
    ids = tf.TensorSpec([None, None], tf.int32)
    tokenizer = module.tokenizer
    signatures = {
        "tokenize": tf.function(lambda t: {"ids": tokenizer.tokenize(t).to_tensor()}, [text]),
        "offsets": tf.function(
            lambda t: {"starts": tokenizer.tokenize_with_offsets(t)[1].to_tensor()}, [text]
        ),
        "detokenize": tf.function(lambda i: {"text": tokenizer.detokenize(i)}, [ids]),
        "size": tf.function(lambda: {"size": tokenizer.vocab_size()}, []),
        "pieces": tf.function(lambda i: {"pieces": tokenizer.id_to_string(i)}, [ids]),
        "ids": tf.function(lambda t: {"ids": tokenizer.string_to_id(t)}, [text]),
    }
    path = tmp_path / "sentencepiece"
    tf.saved_model.save(module, str(path), signatures=signatures)

    with pytest.raises(ValueError) as error:
        verify_saved_model(path)
    named = {
        line.split()[0]
        for line in str(error.value).splitlines()
        if "(not an op of core TensorFlow)" in line
    }
    assert named == set(SENTENCEPIECE_OPS)

    summary = verify_saved_model(path, allowed_extra=SENTENCEPIECE_OPS)
    assert summary["extra_ops"] == sorted(SENTENCEPIECE_OPS)
    assert summary["signatures"] == sorted(signatures)


def test_a_folder_without_a_saved_model_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"expected a SavedModel folder holding"):
        verify_saved_model(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(ValueError, match=r"is not a SavedModel protobuf"):
        saved_model_ops(tmp_path)


@pytest.mark.parametrize("allowed_extra", ["SentencepieceOp", None, ["SentencepieceOp", 3]])
def test_allowed_extra_must_be_a_list_of_op_names(dense_saved_model, allowed_extra):
    with pytest.raises(TypeError, match=r"Argument `allowed_extra` expected .* Received: "):
        verify_saved_model(dense_saved_model, allowed_extra=allowed_extra)
