"""TIMIT-layout speech corpora of other shapes than the bundled one, synthesized with espeak-ng.

A corpus is the tree the speech-tagging recipe reads:

    <split>/<speaker>/<utterance_id>.wav   16 kHz mono 16-bit PCM
    <split>/<speaker>/<utterance_id>.phn   "start_sample end_sample label" lines, contiguous,
                                           covering the audio; silence is `sil`
    transcripts.tsv, corpus.json           the texts; the shape, seed and counts

It is made exactly as the bundled corpus is (`docs/datasets/build_speech.py`,
whose functions this module imports): sentences of
`recipes/data/number_agreement/sentences.csv` with `[MASK]` filled in, espeak-ng
through its C API, phone alignments from the synthesizer's phoneme events with
the same corrections, the same silence padding, level and 27-33 dB noise, and
the same folding of rare allophones. What a `SpeechShape` changes is the
number of voices, the utterances per voice, the speaking rate, whether a
`dev/` folder exists and whether the test voices occur in train.

The voices are accent + variant pairs of espeak-ng (`VOICE_POOL`: variants
without echo, breath or Klatt synthesis, so that closures stay exact digital
silence); the seed shuffles which voices go to which split. The Debian
`mbrola` voices are not in bookworm's main archive, so only espeak-ng's own
formant voices are used.

espeak-ng keeps some state between syntheses in one process and cannot be
initialized twice, so `write_speech_corpus` synthesizes each corpus in a fresh
Python process: the same shape and seed give byte-identical files (for one
espeak-ng version). Needs `apt-get install espeak-ng libespeak-ng1`.

    python -m benchmarks.corpora.speech --shape 3-voices --seed 0 --out /tmp/speech-3
"""

import argparse
import ctypes.util
import dataclasses
import functools
import importlib.util
import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np

from benchmarks.corpora.folders import clear_corpus_folder
from benchmarks.corpora.folders import read_corpus_record
from benchmarks.corpora.folders import write_corpus_record

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILDER = ROOT / "docs" / "datasets" / "build_speech.py"
SPLITS = ("train", "dev", "test")

# (accent, variant) pairs; espeak-ng-data/voices/!v variants without `echo`, `breath` or
# `klatt` settings (the bundled corpus' rule, see docs/datasets/speech.md).
VOICE_POOL = (
    ("en-us", "m1"),
    ("en-us", "f1"),
    ("en-us", "Andy"),
    ("en-us", "steph"),
    ("en-us", "m5"),
    ("en-us", "anika"),
    ("en-us", "Alex"),
    ("en-us", "Gene"),
    ("en-us", "Mike"),
    ("en-us", "shelby"),
    ("en", "m3"),
    ("en", "linda"),
    ("en", "m4"),
    ("en", "Denis"),
    ("en", "Andrea"),
    ("en", "john"),
    ("en", "grandma"),
    ("en", "paul"),
    ("en-gb-x-rp", "m6"),
    ("en-gb-x-rp", "Annie"),
    ("en-gb-x-rp", "robert"),
    ("en-gb-x-rp", "quincy"),
    ("en-gb-scotland", "m7"),
    ("en-gb-scotland", "iven"),
    ("en-029", "aunty"),
    ("en-029", "norbert"),
    ("en-us-nyc", "belinda"),
    ("en-us-nyc", "travis"),
    ("en-gb-x-gbclan", "Lee"),
    ("en-gb-x-gbclan", "zac"),
)


@dataclasses.dataclass(frozen=True)
class SpeechShape:
    """The shape of a synthesized speech corpus.

    Args:
        name: String, the shape's name (a folder name in the benchmark).
        train_voices: Positive integer (default `3`), voices in `train/`.
        dev_voices: Non-negative integer (default `1`), voices in `dev/`;
            `0` writes no `dev/` folder (the recipe carves dev out of train,
            by speaker).
        test_voices: Positive integer (default `2`), voices in `test/`.
        train_utterances: Positive integer (default `12`), utterances per
            train voice.
        eval_utterances: Positive integer (default `6`), utterances per dev
            and per test voice.
        rate_wpm: Pair of integers (default `(170, 225)`, the bundled
            corpus'), the range of espeak-ng's speaking rate in words per
            minute, drawn per utterance.
        test_voices_seen: Boolean (default `False`): `False` takes dev and
            test voices that train never has; `True` takes them from the
            train voices (other sentences).
        sentence_words: Tuple of integers (default `(6, 7, 8)`), the
            sentence lengths in words that are used.
        unseen_labels: Boolean (default `False`): `False` skips a dev or
            test sentence whose synthesis has a phone that no train
            utterance has, and takes the next sentence (so every dev / test
            label occurs in train, as in the bundled corpus); `True` keeps
            it.
    """

    name: str
    train_voices: int = 3
    dev_voices: int = 1
    test_voices: int = 2
    train_utterances: int = 12
    eval_utterances: int = 6
    rate_wpm: tuple = (170, 225)
    test_voices_seen: bool = False
    sentence_words: tuple = (6, 7, 8)
    unseen_labels: bool = False

    def __post_init__(self):
        for field in ("train_voices", "test_voices", "train_utterances", "eval_utterances"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Argument `{field}` expected a positive integer. Received: {field}={value!r}"
                )
        if not isinstance(self.dev_voices, int) or self.dev_voices < 0:
            raise ValueError(
                "Argument `dev_voices` expected a non-negative integer. "
                f"Received: dev_voices={self.dev_voices!r}"
            )
        eval_voices = self.dev_voices + self.test_voices
        needed = self.train_voices + (0 if self.test_voices_seen else eval_voices)
        if self.test_voices_seen and max(self.dev_voices, self.test_voices) > self.train_voices:
            raise ValueError(
                "With test_voices_seen=True, `dev_voices` and `test_voices` expected at most "
                f"train_voices={self.train_voices}. Received: dev_voices={self.dev_voices}, "
                f"test_voices={self.test_voices}"
            )
        if needed > len(VOICE_POOL):
            raise ValueError(
                f"The shape needs {needed} voices; the pool holds {len(VOICE_POOL)}. "
                f"Received: train_voices={self.train_voices}, dev_voices={self.dev_voices}, "
                f"test_voices={self.test_voices}"
            )
        object.__setattr__(self, "rate_wpm", tuple(self.rate_wpm))
        object.__setattr__(self, "sentence_words", tuple(self.sentence_words))

    def quick(self):
        """The same shape at a few utterances per voice and at most 3 train voices."""
        return dataclasses.replace(
            self,
            train_voices=min(self.train_voices, 3),
            dev_voices=min(self.dev_voices, 1),
            test_voices=min(self.test_voices, 1),
            train_utterances=min(self.train_utterances, 4),
            eval_utterances=min(self.eval_utterances, 2),
        )


SHAPES = {
    shape.name: shape
    for shape in (
        SpeechShape("3-voices", train_voices=3, dev_voices=1, test_voices=2),
        SpeechShape(
            "10-voices",
            train_voices=10,
            dev_voices=2,
            test_voices=3,
            train_utterances=5,
            eval_utterances=3,
        ),
        SpeechShape(
            "seen-voices",
            train_voices=3,
            dev_voices=3,
            test_voices=3,
            eval_utterances=3,
            test_voices_seen=True,
        ),
        SpeechShape("no-dev", train_voices=4, dev_voices=0, test_voices=2, train_utterances=10),
        SpeechShape("fast", rate_wpm=(280, 340)),
        SpeechShape("slow", rate_wpm=(110, 140)),
    )
}


def espeak_available():
    """Whether espeak-ng (program and shared library) is installed."""
    return shutil.which("espeak-ng") is not None and (
        ctypes.util.find_library("espeak-ng") is not None
    )


@functools.cache
def bundled_builder():
    """The bundled corpus' builder, `docs/datasets/build_speech.py`, as a module."""
    spec = importlib.util.spec_from_file_location("build_speech", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_speech_corpus(out_dir, shape, seed=0):
    """Synthesizes a corpus of `shape` into `out_dir`, in a fresh Python process.

    Args:
        out_dir: Path of a new or empty folder, or of an earlier generated
            corpus (which is replaced).
        shape: A `SpeechShape`, or the name of one of `SHAPES`.
        seed: Non-negative integer (default `0`): voices, sentences and
            every per-utterance parameter follow from it.

    Returns:
        The corpus' `corpus.json` record, a dict: `shape`, `seed`,
        `espeak_ng`, `voices` and `utterances` and `seconds` per split,
        `labels`, `folded`.

    Raises:
        RuntimeError: espeak-ng is not installed, or the synthesis failed
            (with the child's error output).
    """
    shape = SHAPES[shape] if isinstance(shape, str) else shape
    if not espeak_available():
        raise RuntimeError(
            "espeak-ng is not installed; the speech corpora need it: "
            "apt-get install -y espeak-ng libespeak-ng1"
        )
    command = [sys.executable, "-m", "benchmarks.corpora.speech", "--out", str(out_dir)]
    command += ["--shape-json", json.dumps(dataclasses.asdict(shape)), "--seed", str(seed)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"Synthesizing the speech corpus {shape.name!r} failed:\n{done.stderr[-3000:]}"
        )
    return read_corpus_record(out_dir)


def voice_plan(shape, seed):
    """-> [(split, folder, espeak voice name)] in split order, voices shuffled by `seed`."""
    pool = [VOICE_POOL[i] for i in np.random.default_rng(seed).permutation(len(VOICE_POOL))]
    train = pool[: shape.train_voices]
    if shape.test_voices_seen:
        dev, test = train[: shape.dev_voices], train[: shape.test_voices]
    else:
        rest = pool[shape.train_voices :]
        dev, test = rest[: shape.dev_voices], rest[shape.dev_voices :][: shape.test_voices]
    return [
        (split, f"{accent}_{variant}", f"{accent}+{variant}")
        for split, voices in (("train", train), ("dev", dev), ("test", test))
        for accent, variant in voices
    ]


def synthesize_corpus(out_dir, shape, seed=0):
    """Synthesizes the corpus in this process (once per process: see the module docstring)."""
    builder = bundled_builder()
    out_dir = clear_corpus_folder(out_dir)
    sentences = builder.load_sentences(shape.sentence_words)
    queue = [sentences[i] for i in np.random.default_rng(seed).permutation(len(sentences))]
    plan = voice_plan(shape, seed)
    counts = {"train": shape.train_utterances, "dev": shape.eval_utterances}
    counts["test"] = shape.eval_utterances
    needed = sum(counts[split] for split, _, _ in plan)
    if needed > len(queue):
        raise ValueError(
            f"The shape needs {needed} sentences; {len(queue)} have "
            f"sentence_words={shape.sentence_words}"
        )

    synthesizer = builder.Espeak()
    utterances, log, train_phones, skipped = [], [], set(), 0
    for split in SPLITS:
        voices = [(folder, voice) for s, folder, voice in plan if s == split]
        for _ in range(counts[split]):  # round robin over the split's voices, as the builder
            for folder, voice in voices:
                while True:
                    if not queue:
                        raise ValueError(
                            f"Ran out of sentences for {split}/{folder} (skipped {skipped} with "
                            "phones train lacks); give more sentence_words or fewer utterances"
                        )
                    utterance = builder.synthesize(
                        synthesizer, log, queue.pop(0), seed, split, folder, voice, shape.rate_wpm
                    )
                    phones = {event[1] for event in utterance["events"]}
                    phones = {name for name in phones if not name.startswith("_")}
                    if split == "train":
                        train_phones |= phones
                    elif not (shape.unseen_labels or phones <= train_phones):
                        skipped += 1
                        continue
                    utterances.append(utterance)
                    break
    builder.add_ipa(utterances, log)
    builder.finish_utterances(utterances, synthesizer.rate)
    folded = builder.fold_rare_phones(utterances)
    builder.write(str(out_dir), utterances)
    files, _ = builder.check_tree(str(out_dir))
    if files != len(utterances):
        raise RuntimeError(f"wrote {files} wav/phn pairs for {len(utterances)} utterances")

    record = {
        "generator": "benchmarks.corpora.speech",
        "shape": dataclasses.asdict(shape),
        "seed": seed,
        "espeak_ng": builder.espeak_version(),
        "voices": {},
        "utterances": {},
        "seconds": {},
        "labels": sorted({s[2] for u in utterances for s in u["segs"]}),
        "folded": {label: target for label, (target, _) in sorted(folded.items())},
        "skipped_for_unseen_phones": skipped,
    }
    for split in SPLITS:
        chosen = [u for u in utterances if u["split"] == split]
        if chosen:
            record["voices"][split] = sorted({u["folder"] for u in chosen})
            record["utterances"][split] = len(chosen)
            seconds = sum(len(u["audio"]) for u in chosen) / builder.SR_OUT
            record["seconds"][split] = round(seconds, 2)
    write_corpus_record(out_dir, record)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpora.speech", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="corpus folder (new, or a generated one)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="3-voices")
    parser.add_argument("--shape-json", help=argparse.SUPPRESS)  # a whole SpeechShape
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few utterances per voice")
    parser.add_argument(
        "--unseen-labels",
        action="store_true",
        help="keep dev/test sentences with phones that train lacks",
    )
    args = parser.parse_args(argv)
    if args.shape_json:
        shape = SpeechShape(**json.loads(args.shape_json))
    else:
        shape = SHAPES[args.shape]
    if args.quick:
        shape = shape.quick()
    if args.unseen_labels:
        shape = dataclasses.replace(shape, unseen_labels=True)
    record = synthesize_corpus(args.out, shape, args.seed)
    print(json.dumps({key: record[key] for key in ("utterances", "seconds", "voices")}))


if __name__ == "__main__":
    main()
