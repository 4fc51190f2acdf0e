"""The translator's beam search, step by step: what each per-step choice costs.

Issue 31 asked for the decoder's per-step work to be measured on a decode of the
translation recipe's test split. A beam search step of `toolkit.models.Translator`
runs the attentional decoder cell on `batch * beam_width` rows, the vocabulary
projection, a log-softmax and a top-k over `beam_width * vocabulary` candidates per
source. Two of those choices are timed here against what they replaced, in one
process, on the same source ids:

* **memory**: `shared` (the library's way: the decoder cell attends in runs of
  `beam_width` rows to one memory row, `AttentionDecoderCell.prepare_memory`) or
  `tiled` (the memory repeated `beam_width` times with `toolkit.decoding.tile_batch`,
  what `generate` did before; every step then reads it `beam_width` times);
* **top-k**: `blocked` (`toolkit.decoding.top_k.top_k`, the library's) or `full`
  (`keras.ops.top_k` over every candidate).

Each of the four combinations is its own compiled search (`tf.function` over
`Translator.generate`, traced once with the combination in place), timed in
interleaved rounds (`benchmarks.recurrent_layers.interleaved_medians`): one round
decodes every `--items` test source in batches of `--batch-size`. Reported: seconds
per pass, sources per second, the ratio to `tiled + full`, and whether the
translations (token ids) and scores equal those of `shared + blocked`.

Run:

    python -m benchmarks.beam_search --run runs/translation
    python -m benchmarks.beam_search                # trains the recipe 2 minutes first

Written to `<out>/results.json` and `<out>/results.md` (default
`runs/benchmarks/beam_search`). TensorFlow backend (the recipe's serving backend).
"""

import argparse
import contextlib
import pathlib
import sys

import numpy as np

from benchmarks.recurrent_layers import interleaved_medians
from benchmarks.reports import write_results
from benchmarks.serving import RUN_FILES
from benchmarks.serving import train_run
from recipes.runner.errors import UsageError
from recipes.runner.outputs import check_run_folder
from toolkit.runtime.machine import machine_info

VARIANTS = {
    "shared + blocked": ("shared", "blocked"),
    "shared + full": ("shared", "full"),
    "tiled + blocked": ("tiled", "blocked"),
    "tiled + full": ("tiled", "full"),
}
BASELINE, LIBRARY = "tiled + full", "shared + blocked"


@contextlib.contextmanager
def variant(memory, selection, beam_width):
    """The library with the given memory layout and top-k in place (restored on exit)."""
    from keras import ops

    from toolkit.attention.decoder import AttentionDecoderCell
    from toolkit.decoding import search
    from toolkit.decoding import tile_batch

    prepare, top_k = AttentionDecoderCell.prepare_memory, search.top_k

    def tiled(cell, memory_tensor, memory_mask=None):
        repeat = (tile_batch(memory_tensor, beam_width), tile_batch(memory_mask, beam_width))
        return prepare(cell, *repeat)

    def full(values, k):
        top_values, indices = ops.top_k(values, k)
        return top_values, ops.cast(indices, "int32")

    if memory == "tiled":
        AttentionDecoderCell.prepare_memory = tiled
    if selection == "full":
        search.top_k = full
    try:
        yield
    finally:
        AttentionDecoderCell.prepare_memory, search.top_k = prepare, top_k


def source_batches(translator, sources, batch_size):
    """The sources tokenized as `Translator.translate` does (`tf.data`), as NumPy batches."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string))
    batches = batches.batch(batch_size).map(translator.preprocessor.encode_sources)
    return [batch.numpy() for batch in batches]


def compiled_searches(translator, options, first_batch):
    """One `tf.function` per variant, traced with that variant in place."""
    import tensorflow as tf

    searches = {}
    for name, (memory, selection) in VARIANTS.items():
        with variant(memory, selection, options["beam_width"]):
            search = tf.function(
                lambda ids: translator.generate(ids, **options),
                input_signature=[tf.TensorSpec((None, None), tf.int32)],
                autograph=False,
            )
            search(first_batch)  # traced now, with this variant's functions
        searches[name] = search
    return searches


def measure(run_dir, items, batch_size, repeats):
    from recipes.translation.export import load_run
    from recipes.translation.export import search_options
    from recipes.translation.job import load_splits

    translator, config = load_run(run_dir)
    options = dict(search_options(config))
    if not options.get("beam_width"):
        raise UsageError(
            f"Argument `--run` expected a translation run with beam search. Received: "
            f"{str(run_dir)!r}, whose beam_width is {options.get('beam_width')!r}"
        )
    sources = list(load_splits(config)[0]["test"].sources[:items])
    batches = source_batches(translator, sources, batch_size)
    searches = compiled_searches(translator, options, batches[0])

    def decode(search):
        return [{key: value.numpy() for key, value in search(ids).items()} for ids in batches]

    results = {name: decode(search) for name, search in searches.items()}
    functions = {name: (lambda search=search: decode(search)) for name, search in searches.items()}
    medians, errors = interleaved_medians(functions, repeats, warmup=0, block=1)
    if errors:
        raise RuntimeError(f"A variant failed: {errors}")
    reference = results[LIBRARY]
    rows = []
    for name in VARIANTS:
        same_tokens = all(
            np.array_equal(got["tokens"], want["tokens"])
            for got, want in zip(results[name], reference)
        )
        score_gap = max(
            float(np.max(np.abs(got["scores"] - want["scores"])))
            for got, want in zip(results[name], reference)
        )
        rows.append(
            {
                "variant": name,
                "seconds": medians[name],
                "sources_per_second": len(sources) / medians[name],
                "ratio_to_baseline": medians[name] / medians[BASELINE],
                "same_tokens_as_library": same_tokens,
                "score_gap": score_gap,
            }
        )
    return {
        "run": str(run_dir),
        "sources": len(sources),
        "batch_size": batch_size,
        "beam_width": options["beam_width"],
        "repeats": repeats,
        "rows": rows,
    }


def markdown(results):
    lines = [
        f"# Beam search per step ({results['sources']} test sources of {results['run']}, "
        f"batches of {results['batch_size']}, beam {results['beam_width']}, "
        f"medians of {results['repeats']})",
        "",
        "| variant | s per pass | sources/s | / tiled + full | same tokens | score gap |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['variant']} | {row['seconds']:.3f} | {row['sources_per_second']:.1f} | "
            f"{row['ratio_to_baseline']:.2f} | {'yes' if row['same_tokens_as_library'] else 'no'}"
            f" | {row['score_gap']:.1e} |"
        )
    lines += ["", f"Machine: {results['machine']}"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a translation run folder (default: train one first)")
    parser.add_argument("--items", type=int, default=256, help="test sources (default 256)")
    parser.add_argument("--batch-size", type=int, default=64, help="sources per search")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--train-minutes", type=float, default=2.0)
    parser.add_argument("--out", default="runs/benchmarks/beam_search")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    try:
        for name in ("items", "batch_size", "repeats"):
            if getattr(args, name) < 1:
                raise UsageError(
                    f"Argument `--{name.replace('_', '-')}` expected a positive integer. "
                    f"Received: {getattr(args, name)}"
                )
        if args.run:
            run_dir = check_run_folder(args.run, RUN_FILES["translation"])
        else:
            run_dir, _ = train_run("translation", out, args.train_minutes)
        results = measure(run_dir, args.items, args.batch_size, args.repeats)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results["machine"] = machine_info(("keras", "tensorflow"))
    print(write_results(results, out, markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
