"""Scores and decoding: frame accuracy, phone error rate, CTC search.

Phone error rate (PER): the edit distance between the reference label
sequence (the aligned segments in order, repeats merged) and the hypothesis
sequence (framewise: the frame labels with runs merged; CTC: the decoded
labels), summed over utterances and divided by the number of reference
labels. Silence (`silence_label`) is left out of both sequences before the
comparison, as in the usual TIMIT scoring where `h#`, `pau` and `epi` fold
to silence and are not scored; jiwer counts the substitutions, deletions and
insertions.
"""

import functools

import keras
import numpy as np
from keras import ops

from recipes.speech_tagging.pipeline import merge_repeats
from toolkit.losses.ctc import BLANK
from toolkit.models.streaming import frame_timing as toolkit_frame_timing


def phone_error_rate(references, hypotheses, silence_label):
    """PER over utterances, with its substitutions, deletions and insertions.

    Args:
        references: List of label lists (one per utterance).
        hypotheses: List of label lists, aligned with `references`.
        silence_label: The label left out of both before scoring.

    Returns:
        A dict: `per` (errors / reference labels), `substitutions`,
        `deletions`, `insertions`, `reference_labels`, `utterances`.
    """
    import jiwer

    if len(references) != len(hypotheses):
        raise ValueError(
            f"Expected one hypothesis per reference. Received: {len(references)} references, "
            f"{len(hypotheses)} hypotheses"
        )
    totals = {"substitutions": 0, "deletions": 0, "insertions": 0, "reference_labels": 0}
    kept_references, kept_hypotheses = [], []
    for reference, hypothesis in zip(references, hypotheses):
        reference = [label for label in merge_repeats(reference) if label != silence_label]
        hypothesis = [label for label in merge_repeats(hypothesis) if label != silence_label]
        if not reference:  # jiwer needs a reference: all of the hypothesis is inserted
            totals["insertions"] += len(hypothesis)
            continue
        kept_references.append(reference)
        kept_hypotheses.append(hypothesis)
        totals["reference_labels"] += len(reference)
    if kept_references:
        # Labels may hold any character but spaces, so they are words for jiwer.
        output = jiwer.process_words(
            [" ".join(r) for r in kept_references], [" ".join(h) for h in kept_hypotheses]
        )
        totals["substitutions"] += output.substitutions
        totals["deletions"] += output.deletions
        totals["insertions"] += output.insertions
    errors = totals["substitutions"] + totals["deletions"] + totals["insertions"]
    reference_count = totals["reference_labels"]
    return {
        "per": errors / reference_count if reference_count else float("nan"),
        **totals,
        "utterances": len(references),
        "silence_label": silence_label,
    }


def frame_timing(config):
    """`(seconds_per_output_frame, offset_seconds)` of the config's tagger frames.

    `toolkit.models.streaming.frame_timing` of the config's front-end: an
    output frame covers `stride` hops, centred on its first input frame's
    window centre.
    """
    return toolkit_frame_timing(
        config.sample_rate, config.frame_length, config.frame_step, config.stride
    )


def ctc_decode(logits, lengths, strategy="greedy", beam_width=8):
    """Label index sequences from CTC logits (`keras.ops.ctc_decode`).

    Args:
        logits: float `(batch, frames, labels + 1)`, class 0 the blank.
        lengths: int `(batch,)` valid frames.
        strategy: `"greedy"` (best path, repeats merged, blanks removed) or
            `"beam"` (prefix beam search).
        beam_width: Beams of `"beam"`.

    Returns:
        A list of int arrays of label indices (`class - 1`), one per row.
    """
    decode = _decoder("greedy" if strategy == "greedy" else "beam_search", beam_width)
    decoded = decode(
        ops.convert_to_tensor(np.asarray(logits, dtype="float32")),
        ops.convert_to_tensor(np.asarray(lengths, dtype="int32")),
    )
    decoded = np.asarray(ops.convert_to_numpy(decoded))[0]
    return [row[row >= 0] - 1 for row in decoded]


@functools.cache
def _decoder(strategy, beam_width):
    """`keras.ops.ctc_decode`'s best paths as a function of `(logits, lengths)`.

    Under JAX it is wrapped in one `jax.jit`, kept for the process: Keras' JAX
    beam search is not compiled as a whole and took 13-23 s per call, every
    call, on a 2-core CPU (4 x 128 frames x 41 classes, beam 8); compiled, a
    call of a shape seen before costs the search alone, 5.5 s there. Other
    backends call Keras directly.
    """

    def decode(logits, lengths):
        decoded, _ = ops.ctc_decode(
            logits,
            lengths,
            strategy=strategy,
            beam_width=beam_width,
            top_paths=1,
            merge_repeated=True,
            mask_index=BLANK,
        )
        return decoded

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(decode)
    return decode


def ctc_decode_outputs(outputs, strategy="greedy", beam_width=8, frame_bucket=64):
    """`ctc_decode` of utterances of different lengths, in one batched call.

    The outputs are padded into one batch whose frame count is rounded up to
    a multiple of `frame_bucket`, so a split costs one decoder call and
    splits of similar lengths share a shape. Under JAX every new shape
    compiles the decoder again (seconds for beam search); decoding utterance
    by utterance compiled it once per utterance.

    Args:
        outputs: List of float arrays `(frames_i, labels + 1)`.
        strategy, beam_width: As for `ctc_decode`.
        frame_bucket: The padded frame count is a multiple of this.

    Returns:
        A list of int arrays of label indices, one per output.
    """
    if not outputs:
        return []
    lengths = [len(output) for output in outputs]
    frames = max(1, -(-max(lengths) // frame_bucket)) * frame_bucket
    batch = np.zeros((len(outputs), frames, outputs[0].shape[-1]), dtype="float32")
    for row, output in enumerate(outputs):
        batch[row, : len(output)] = output
    return ctc_decode(batch, lengths, strategy, beam_width)
