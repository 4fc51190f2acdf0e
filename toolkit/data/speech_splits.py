"""The train / dev / test splits of a speech corpus: `load_speech_splits`.

The splits are given as `train` / `dev` / `test` folders (any case; TIMIT's
`TRAIN` / `TEST`), each read with `toolkit.data.speech`, or carved out of
train with the split policy of `toolkit.data.carving`, seeded: whole
speakers where they meet the fractions, else utterances within the speakers.
The JSON-serializable record says where each split came from, with the
labels of train and the ones the other splits hold that train lacks
(`label_inventory`).
"""

import dataclasses

from toolkit.data.alignments import frame_count
from toolkit.data.carving import carve
from toolkit.data.files import data_error
from toolkit.data.speech import check_channels
from toolkit.data.speech import check_folder
from toolkit.data.speech import check_options
from toolkit.data.speech import read_corpus
from toolkit.data.speech_corpus import SpeechCorpus
from toolkit.data.speech_corpus import label_inventory
from toolkit.data.splits import check_split_arguments
from toolkit.data.splits import fractions_to_carve
from toolkit.data.splits import skipped_record
from toolkit.data.splits import split_entries


def load_speech_splits(
    path,
    *,
    seed=0,
    dev_fraction=0.1,
    test_fraction=0.1,
    group_by_speaker=True,
    sample_rate=16000,
    resample=True,
    tier="phones",
    silence_label="sil",
    label_map=None,
    format=None,
    end_tolerance=0.01,
    speaker_level=1,
    frame_length=400,
    frame_step=160,
):
    """Loads the train, dev and test splits of a speech corpus.

    Where the splits come from:

    * `path` holds sub-folders named `train`, `dev` (or `valid` /
      `validation`) and `test`, matched case-insensitively (TIMIT has
      `TRAIN` and `TEST`): each is read with `read_speech_corpus` (utterance
      ids keep the folder, e.g. `TRAIN/DR1/FCJF0/SA1`). `train` is required;
      a missing `dev` and/or `test` is carved out of `train`. Other entries
      of `path` are ignored (listed in the record's notes).
    * otherwise the whole folder is read and `test`, then `dev`, are carved
      out of it.

    Carving follows the split policy of `toolkit.data.carving`, seeded. With
    `group_by_speaker=True` (default) the utterances are grouped by speaker -
    the name of the folder holding them, or of the folder `speaker_level`
    levels up; an utterance with no speaker folder (lying directly in the
    folder read) is a group of its own. Whole speakers are carved, so that no
    speaker is in two splits, when they can meet the fractions closely: the
    speakers are shuffled with `numpy.random.default_rng(seed)` and each
    carved split (test, then dev) takes them in that order, never going over
    1.5 times its `round(fraction * utterances)` utterances; the draw is kept
    when every carved split holds at least 2/3 of its utterances and train
    keeps at least 2 speakers and 2/3 of the utterances left to it.
    Otherwise (few speakers, or speakers large against the fraction, e.g. 3
    speakers where one is 40% of train for a `dev_fraction` of 0.1) every
    carved split is carved by utterance within the speakers: each speaker
    gives about the fraction of its own utterances (a split stratified by
    speaker), so dev and test hold train's speakers. With
    `group_by_speaker=False`, or no speaker folders, utterances are carved
    one by one. The record's `split_policy` says which was done and why, and
    so does a line of its notes. The same arguments give the same splits. A
    split that ends up empty is an error.

    Args:
        path: Path (string or path-like) of the corpus folder.
        seed: Non-negative integer (default `0`), the seed of the split.
        dev_fraction: Float in [0, 1) (default `0.1`), the fraction of the
            utterances carved out as `dev` when no dev folder is given.
        test_fraction: Float in [0, 1) (default `0.1`), the fraction carved
            out as `test` when no test folder is given.
        group_by_speaker: Boolean (default `True`): carve whole speaker
            folders where they meet the fractions, else utterances within
            the speakers; `False` carves single utterances.
        sample_rate, resample, tier, silence_label, label_map, format,
            end_tolerance, speaker_level: as for `read_speech_corpus` (a map
            file is read once, for all splits).
        frame_length: Positive integer (default `400`), the frame length of
            the frame counts in the record (audio formats).
        frame_step: Positive integer (default `160`), their frame step.

    Returns:
        A tuple `(splits, record)`: `splits` is a dict `{"train", "dev",
        "test"}` of `SpeechCorpus` (a carved split has
        `source="split of <path>"`, no skipped files and no notes), and
        `record` a JSON-serializable dict: `source`, `layout`
        (`"split folders"` or `"single source"`), `format`, `sample_rate`,
        `seed`, `dev_fraction`, `test_fraction`, `group_by_speaker`,
        `grouped_by` (`"speaker"` for whole speakers, `"utterance"`, or
        `None` when nothing was carved), `split_policy` (`dev` and `test`:
        `"given"`, `"empty"`, `"by speaker"`, `"by utterance within
        speakers"` or `"by utterance"`; and the `reason`), `tier` (`None`
        unless TextGrid), `silence_label`,
        `label_map` (`None` or `{"source", "size", "deleted"}`),
        `frame_length`, `frame_step`, then what `label_inventory` returns
        (`labels`, `label_counts`, `unseen_labels`), `splits` (per split:
        `source`, `utterances`, `speakers`, `frames`, `seconds` (`None` for
        features), and `fraction` when carved), `skipped` (`count`,
        `by_reason`, the `first` 20 entries) and `notes`.

    Raises:
        DataError: dev / test folders without a train folder, or two folders
            for one split; splits in different formats; too few utterances
            or speakers to carve a split; an empty split; and every data
            error of `read_speech_corpus`.
        ValueError: bad arguments (naming them).

    Example:

    >>> import os, shutil, tempfile, wave
    >>> root = tempfile.mkdtemp()
    >>> for speaker in ["s1", "s2", "s3", "s4", "s5"]:
    ...     os.makedirs(os.path.join(root, speaker))
    ...     for name in ["a", "b"]:
    ...         stem = os.path.join(root, speaker, name)
    ...         with wave.open(stem + ".wav", "wb") as file:
    ...             file.setnchannels(1)
    ...             file.setsampwidth(2)
    ...             file.setframerate(16000)
    ...             file.writeframes(bytes(2 * 800))
    ...         with open(stem + ".phn", "w") as file:
    ...             _ = file.write("0 400 sil\\n400 800 " + name + "\\n")
    >>> splits, record = load_speech_splits(root, dev_fraction=0.2, test_fraction=0.2)
    >>> {name: len(split) for name, split in splits.items()}
    {'train': 6, 'dev': 2, 'test': 2}
    >>> record["layout"], record["grouped_by"], record["labels"]
    ('single source', 'speaker', ['a', 'b', 'sil'])
    >>> record["split_policy"]["dev"], record["notes"][0].split(":")[0]
    ('by speaker', 'dev and test carved by speaker')
    >>> record["splits"]["dev"]["speakers"], record["unseen_labels"]
    (1, {'dev': {}, 'test': {}})
    >>> shutil.rmtree(root)
    """
    dev_fraction, test_fraction, seed = check_split_arguments(dev_fraction, test_fraction, seed)
    if not isinstance(group_by_speaker, bool):
        raise ValueError(
            "Argument `group_by_speaker` expected a boolean. "
            f"Received: group_by_speaker={group_by_speaker!r}"
        )
    options = check_options(
        sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
    )
    frame_count(0, frame_length, frame_step)  # checks the framing arguments
    path = check_folder(path)

    notes = []
    folders = split_entries(path, notes, folders_only=True)
    given = {}
    if folders:
        for name, folder in folders.items():
            given[name] = read_corpus(folder, path, options)
        formats = {name: corpus.format for name, corpus in given.items()}
        if len(set(formats.values())) > 1:
            raise data_error(
                path,
                None,
                f"holds splits in different formats: {formats}. Expected one format for "
                "the whole corpus",
            )
        check_channels([u for corpus in given.values() for u in corpus.utterances])
    else:
        given["train"] = read_corpus(path, path, options)
    to_carve = fractions_to_carve(given, dev_fraction, test_fraction, notes)
    source = given.pop("train")
    carving = carve(
        len(source),
        to_carve,
        seed,
        source=source.source,
        item="utterance",
        groups=[u.speaker for u in source.utterances] if group_by_speaker else None,
        group="speaker",
    )
    notes.extend(carving.notes)

    def select(indices, carved):
        utterances = [source.utterances[i] for i in indices]
        if not carved:  # train keeps the source's skipped files and notes
            return dataclasses.replace(source, utterances=utterances)
        return SpeechCorpus(
            utterances, f"split of {source.source}", source.format, source.sample_rate
        )

    splits = carving.splits(select, given)
    for name, split in splits.items():
        if not split.utterances:
            raise data_error(
                path,
                None,
                f"the {name} split is empty: give a {name} folder or a non-zero "
                f"{name}_fraction. Received: {name}_fraction="
                f"{dev_fraction if name == 'dev' else test_fraction}",
            )
    for corpus in [source, *given.values()]:
        notes.extend(f"{corpus.source}: {note}" for note in corpus.notes)

    mapping, map_source = options["label_map"]
    record = {
        "source": path,
        "layout": "split folders" if folders else "single source",
        "format": source.format,
        "sample_rate": source.sample_rate,
        "seed": seed,
        "dev_fraction": dev_fraction,
        "test_fraction": test_fraction,
        "group_by_speaker": group_by_speaker,
        "speaker_level": speaker_level,
        "grouped_by": carving.unit,
        "split_policy": carving.record(),
        "tier": tier if source.format == "textgrid" else None,
        "silence_label": silence_label,
        "label_map": None
        if mapping is None
        else {
            "source": map_source,
            "size": len(mapping),
            "deleted": sorted(key for key, value in mapping.items() if value is None),
        },
        "frame_length": frame_length,
        "frame_step": frame_step,
        **label_inventory(splits, frame_length, frame_step),
        "splits": {},
        "skipped": skipped_record(splits, by_file=False),
        "notes": notes,
    }
    for name, unseen in record["unseen_labels"].items():
        if unseen:
            notes.append(
                f"the {name} split has labels train never has (frames): {unseen}; a tagger "
                "trained on train cannot output them"
            )
    for name, split in splits.items():
        seconds = [utterance.seconds for utterance in split.utterances]
        record["splits"][name] = {
            "source": split.source,
            "utterances": len(split),
            "speakers": len({u.speaker for u in split.utterances if u.speaker is not None}),
            "frames": sum(u.num_frames(frame_length, frame_step) for u in split.utterances),
            "seconds": None if None in seconds else round(sum(seconds), 3),
        }
        if name in to_carve:
            record["splits"][name]["fraction"] = to_carve[name]
    return splits, record
