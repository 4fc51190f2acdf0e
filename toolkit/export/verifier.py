"""The op verifier: which ops a SavedModel's graphs hold, and whether TensorFlow alone runs them.

The SavedModel is read as a protobuf (`saved_model.pb`), never loaded: a model
holding an op this process cannot run must still be inspectable, and loading
one runs its restore functions.
"""

import collections
import functools
import os

# The ops `tensorflow_text.SentencepieceTokenizer` puts in a graph (tensorflow-text
# 2.21): the model resource and its tokenize / detokenize / vocabulary ops.
SENTENCEPIECE_OPS = (
    "SentencepieceOp",
    "SentencepieceTokenizeOp",
    "SentencepieceTokenizeWithOffsetsOp",
    "SentencepieceDetokenizeOp",
    "SentencepieceVocabSizeOp",
    "SentencepieceIdToStringOp",
    "SentencepieceStringToIdOp",
)

TOP_LEVEL_GRAPH = "<top-level graph>"

# A pseudo-signature: the SavedModel's initializers, not something to serve.
_INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"

# Op families refused even though core TensorFlow registers them: cuDNN kernels
# exist on NVIDIA GPUs only, and XLA ops need XLA's compiler (and often a TPU).
_REFUSED_FAMILIES = {
    "Cudnn": "a cuDNN op: it runs on NVIDIA GPUs only",
    "Xla": "an XLA op: it needs XLA compilation",
}


def saved_model_ops(path):
    """Lists the ops of every graph of a SavedModel, without loading it.

    Reads `saved_model.pb` (or `saved_model.pbtxt`) as a protobuf: the
    top-level graph (variables, placeholders, the calls each signature makes)
    and every function of its function library - the signatures' functions,
    the functions they call (`StatefulPartitionedCall`, `While` / `If`
    bodies and branches, `tf.data` functions), and functions nothing calls
    but that the loaded object still exposes. A node whose op names a
    library function is a call, not an op, and is not listed.

    Args:
        path: The SavedModel's folder (a string or `os.PathLike`).

    Returns:
        A dict `{graph: {op: count}}`: `"<top-level graph>"`
        (`TOP_LEVEL_GRAPH`) and each function's name, mapped to how many nodes
        of each op type the graph holds, in name order. In a SavedModel with
        several meta graphs (TensorFlow 1 style) each name is prefixed with
        `"meta_graphs[i]/"`.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> module = tf.Module()
    >>> module.kernel = tf.Variable(tf.ones((3, 2)))
    >>> module.serve = tf.function(
    ...     lambda x: tf.matmul(x, module.kernel),
    ...     input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    >>> path = tempfile.mkdtemp()
    >>> tf.saved_model.save(module, path)
    >>> graphs = saved_model_ops(path)
    >>> graphs["<top-level graph>"]["VarHandleOp"]
    1
    >>> [name for name, ops in graphs.items() if "MatMul" in ops]
    ['__inference_<lambda>_...']
    """
    return {name: graph.ops for name, graph in _read_graphs(path)[0].items()}


def verify_saved_model(path, allowed_extra=()):
    """Checks that a SavedModel holds only ops that core TensorFlow runs anywhere.

    Every graph `saved_model_ops` lists is checked. An op is refused when it
    is
    - a cuDNN op (`Cudnn*`, e.g. `CudnnRNNV3`): NVIDIA GPUs only;
    - an XLA op (`Xla*`, e.g. `XlaCallModule`, `XlaSharding`);
    - not an op of core TensorFlow: not in `tf.raw_ops`, TensorFlow's public
      list of its own ops, e.g. tensorflow-text's `SentencepieceOp`. The
      process's op registry would not do: it also holds the ops of every
      add-on library loaded so far (importing keras-hub loads
      tensorflow-text's), and TensorFlow's own test and internal ops.

    unless `allowed_extra` names it: ops of an add-on library that serving
    loads on purpose, e.g. `SENTENCEPIECE_OPS` for a model that tokenizes
    with tensorflow-text.

    Args:
        path: The SavedModel's folder (a string or `os.PathLike`).
        allowed_extra: Op names allowed although the rules above refuse
            them (a list or tuple of strings). Defaults to `()`.

    Returns:
        A dict: `"signatures"`, the sorted names of the SavedModel's serving
        signatures; `"ops"`, `{op: count}` over all its graphs, in name
        order; `"extra_ops"`, the sorted ops of `allowed_extra` it holds.

    Raises:
        ValueError: the SavedModel holds a refused op. The message names the
            path and, for each refused op, why, the functions holding it and
            the signatures that reach them.
        FileNotFoundError: `path` holds no `saved_model.pb`.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> module = tf.Module()
    >>> module.kernel = tf.Variable(tf.ones((3, 2)))
    >>> module.serve = tf.function(
    ...     lambda x: tf.matmul(x, module.kernel),
    ...     input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    >>> path = tempfile.mkdtemp()
    >>> tf.saved_model.save(module, path, signatures={"serve": module.serve})
    >>> summary = verify_saved_model(path)
    >>> summary["signatures"], summary["ops"]["MatMul"], summary["extra_ops"]
    (['serve'], 1, [])
    """
    allowed = _check_allowed_extra(allowed_extra)
    graphs, signatures = _read_graphs(path)
    core_ops = _core_ops()
    totals = collections.Counter()
    refused = {}  # op -> (reason, [graph names])
    for name, graph in graphs.items():
        totals.update(graph.ops)
        for op in graph.ops:
            reason = None if op in allowed else _refusal(op, core_ops)
            if reason:
                refused.setdefault(op, (reason, []))[1].append(name)
    if refused:
        reached_by = _signatures_reaching(graphs, signatures)
        lines = []
        for op in sorted(refused):
            reason, names = refused[op]
            places = "; ".join(_describe_graph(name, reached_by.get(name)) for name in names)
            lines.append(f"  {op} ({reason}) in {places}")
        raise ValueError(
            f"The SavedModel at {os.fspath(path)} holds ops that TensorFlow alone cannot run "
            f"on every machine:\n" + "\n".join(lines) + "\n"
            f"Expected core TensorFlow ops only, plus allowed_extra={tuple(sorted(allowed))}. "
            "Ops of an add-on library that serving loads go in `allowed_extra` "
            "(e.g. toolkit.export.SENTENCEPIECE_OPS for tensorflow-text's SentencePiece)."
        )
    return {
        "signatures": sorted(name for name in signatures if name != _INIT_OP_SIGNATURE_KEY),
        "ops": dict(sorted(totals.items())),
        "extra_ops": sorted(op for op in totals if op in allowed),
    }


# === Reading the protobuf ===

_Graph = collections.namedtuple("_Graph", ["ops", "calls"])


def _read_graphs(path):
    """`({graph name: _Graph(ops, calls)}, {signature: [(graph name, node names)]})`."""
    saved_model = _parse_saved_model(path)
    several = len(saved_model.meta_graphs) > 1
    graphs = {}
    signatures = {}
    for index, meta_graph in enumerate(saved_model.meta_graphs):
        prefix = f"meta_graphs[{index}]/" if several else ""
        graph_def = meta_graph.graph_def
        library = {function.signature.name for function in graph_def.library.function}
        top_level = prefix + TOP_LEVEL_GRAPH
        graphs[top_level] = _graph(graph_def.node, library, prefix)
        for function in graph_def.library.function:
            graphs[prefix + function.signature.name] = _graph(function.node_def, library, prefix)
        nodes = {node.name: node for node in graph_def.node}
        for key, signature in meta_graph.signature_def.items():
            outputs = [tensor.name for tensor in signature.outputs.values()]
            roots = _called_from_nodes(nodes, outputs, library, prefix)
            signatures.setdefault(key, set()).update(roots)
    return graphs, signatures


def _parse_saved_model(path):
    from google.protobuf import message
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    folder = os.fspath(path)
    binary = os.path.join(folder, "saved_model.pb")
    text = os.path.join(folder, "saved_model.pbtxt")
    saved_model = saved_model_pb2.SavedModel()
    try:
        if os.path.isfile(binary) or not os.path.isfile(text):
            with open(binary, "rb") as file:
                saved_model.ParseFromString(file.read())
        else:
            with open(text, encoding="utf-8") as file:
                text_format.Parse(file.read(), saved_model)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            error.errno,
            f"Argument `path` expected a SavedModel folder holding saved_model.pb. "
            f"Received: path={folder!r}, which has no such file",
            binary,
        ) from None
    except (message.DecodeError, text_format.ParseError) as error:
        raise ValueError(
            f"Argument `path` expected a SavedModel folder. Received: path={folder!r}, "
            f"whose saved_model file is not a SavedModel protobuf ({error})"
        ) from None
    return saved_model


def _graph(nodes, library, prefix):
    ops = collections.Counter()
    calls = set()
    for node in nodes:
        if node.op in library:  # a function called as an op
            calls.add(prefix + node.op)
        else:
            ops[node.op] += 1
        calls.update(prefix + name for name in _called_functions(node))
    return _Graph(dict(sorted(ops.items())), calls)


def _called_functions(node):
    """The functions a node's attributes name (call targets, loop bodies, branches)."""
    for value in node.attr.values():
        if value.HasField("func"):
            yield value.func.name
        elif value.HasField("list"):
            yield from (function.name for function in value.list.func)


def _called_from_nodes(nodes, tensor_names, library, prefix):
    """The functions the top-level nodes computing `tensor_names` call, directly."""
    pending = [name.lstrip("^").split(":")[0] for name in tensor_names]
    seen = set()
    called = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        if node.op in library:
            called.add(prefix + node.op)
        called.update(prefix + function for function in _called_functions(node))
        pending.extend(entry.lstrip("^").split(":")[0] for entry in node.input)
    return called


def _signatures_reaching(graphs, signatures):
    """`{graph name: sorted signatures whose functions call it, directly or not}`."""
    reached_by = collections.defaultdict(set)
    for signature, roots in signatures.items():
        pending = list(roots)
        seen = set()
        while pending:
            name = pending.pop()
            if name in seen or name not in graphs:
                continue
            seen.add(name)
            reached_by[name].add(signature)
            pending.extend(graphs[name].calls)
    return {name: sorted(keys) for name, keys in reached_by.items()}


def _describe_graph(name, signatures):
    if name.endswith(TOP_LEVEL_GRAPH):
        return f"the {name[: -len(TOP_LEVEL_GRAPH)]}top-level graph"
    if not signatures:
        return f"function {name!r} (no signature calls it)"
    return f"function {name!r} (signature {', '.join(map(repr, signatures))})"


# === Checking ===


def _check_allowed_extra(allowed_extra):
    if isinstance(allowed_extra, (str, bytes)) or not isinstance(
        allowed_extra, (list, tuple, set, frozenset)
    ):
        raise TypeError(
            "Argument `allowed_extra` expected a list or tuple of op names. "
            f"Received: allowed_extra={allowed_extra!r}"
        )
    wrong = [name for name in allowed_extra if not isinstance(name, str) or not name]
    if wrong:
        raise TypeError(
            "Argument `allowed_extra` expected op names (non-empty strings). "
            f"Received: allowed_extra={allowed_extra!r}, holding {wrong!r}"
        )
    return frozenset(allowed_extra)


@functools.cache
def _core_ops():
    import tensorflow as tf

    return frozenset(name for name in dir(tf.raw_ops) if not name.startswith("_"))


def _refusal(op, core_ops):
    for prefix, reason in _REFUSED_FAMILIES.items():
        if op.startswith(prefix):
            return reason
    if op not in core_ops:
        return "not an op of core TensorFlow"
    return None
