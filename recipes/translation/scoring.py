"""Corpus BLEU and chrF with sacreBLEU, overall and by source length; span copies."""

import collections

import numpy as np

LENGTH_BUCKETS = (10, 20, 30)  # source words: <=10, 11-20, 21-30, >30


def corpus_scores(hypotheses, references):
    """sacreBLEU corpus BLEU and chrF, with their signatures.

    BLEU uses sacreBLEU's defaults (`13a` tokenization, exponential
    smoothing, mixed case); chrF is chrF2 (character 6-grams, beta 2).
    """
    import sacrebleu

    bleu = sacrebleu.BLEU()
    chrf = sacrebleu.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": float(bleu_score.score),
        "chrf": float(chrf_score.score),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_details": {
            "precisions": [float(p) for p in bleu_score.precisions],
            "brevity_penalty": float(bleu_score.bp),
            "hypothesis_length": int(bleu_score.sys_len),
            "reference_length": int(bleu_score.ref_len),
        },
    }


def bleu_by_source_length(sources, hypotheses, references, buckets=LENGTH_BUCKETS):
    """Corpus BLEU of the test pairs grouped by source length in words."""
    import sacrebleu

    lengths = np.array([len(source.split()) for source in sources])
    edges = [0, *buckets, None]
    report = {}
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = lengths > low if high is None else (lengths > low) & (lengths <= high)
        name = f">{low}" if high is None else f"{low + 1}-{high}"
        indices = np.flatnonzero(chosen)
        if not len(indices):
            report[name] = {"pairs": 0, "bleu": None}
            continue
        score = sacrebleu.BLEU().corpus_score(
            [hypotheses[i] for i in indices], [[references[i] for i in indices]]
        )
        report[name] = {"pairs": int(len(indices)), "bleu": float(score.score)}
    return report


def span_copies(sources, translations, references, protection):
    """How many of the spans a translation must copy it copies exactly.

    A span must be copied when the source and its reference both hold it
    (found by `protection`'s pattern, counted with multiplicity). The
    translations are final text (unmasked), and `protection` is the same
    for runs with and without placeholder protection, so their rates compare.

    Args:
        sources: List of source strings.
        translations: List of translations, one per source.
        references: List of reference translations, one per source.
        protection: A `protection.SpanProtection` (its span classes).

    Returns:
        Dict: `spans` (to copy), `copied` (found in the translation as a
        span), `copy_rate` (`copied / spans`, `None` without spans),
        `invented` (spans of the translations beyond their sources',
        counted with multiplicity: garbled, made-up or repeated numbers,
        options, ...), `classes`.
    """
    required = copied = invented = 0
    for source, translation, reference in zip(sources, translations, references):
        source_spans = collections.Counter(protection.find(source))
        needed = source_spans & collections.Counter(protection.find(reference))
        produced = collections.Counter(protection.find(translation))
        required += sum(needed.values())
        copied += sum((needed & produced).values())
        invented += sum((produced - source_spans).values())
    return {
        "spans": required,
        "copied": copied,
        "copy_rate": copied / required if required else None,
        "invented": invented,
        "classes": list(protection.classes),
    }
