"""One utterance of each speech format, read from its files.

`read_audio_utterance` reads a `.wav` (or SPHERE) file at its own rate,
brings it to the corpus rate (`toolkit.data.audio`), reads its `.phn` or
TextGrid labels (`toolkit.data.alignments`), rescales `.phn` sample
positions with the audio, and turns the raw segments into the checked,
gap-filled, folded segments of an `Utterance`. `read_npz_utterance` reads
an `.npz` file of `features` `(frames, channels)` and frame `labels`
`(frames,)`: a readable archive of arrays (no pickle), numeric finite
features, one UTF-8 text or integer label per frame, folded with the label
map. Both take the checked options of `read_speech_corpus` and count what
they changed in `stats` (and the audio rates they resampled in `rates`).
Everything wrong in a file is a `DataError` naming it.
"""

import zipfile
import zlib

import numpy as np

from toolkit.data.alignments import fold_frame_labels
from toolkit.data.alignments import prepare_segments
from toolkit.data.alignments import read_phn
from toolkit.data.alignments import read_textgrid_tier
from toolkit.data.alignments import textgrid_segments
from toolkit.data.audio import conform_rate
from toolkit.data.audio import read_native
from toolkit.data.audio import rescale_sample
from toolkit.data.files import DataError
from toolkit.data.files import data_error
from toolkit.data.speech_corpus import Utterance


def read_audio_utterance(
    audio_path, label_path, format, identifier, speaker, options, stats, rates
):
    """The `Utterance` of an audio file and its label file (`format` `"phn"` or
    `"textgrid"`), at `options["sample_rate"]`."""
    sample_rate = options["sample_rate"]
    waveform, rate = read_native(audio_path)
    waveform = conform_rate(audio_path, waveform, rate, sample_rate, options["resample"])
    if rate != sample_rate:
        rates[rate] += 1
    if format == "phn":
        raw = read_phn(label_path)
        if rate != sample_rate:
            raw = [
                (
                    rescale_sample(s, rate, sample_rate),
                    rescale_sample(e, rate, sample_rate),
                    label,
                    line,
                )
                if s >= 0 and e >= 0
                else (s, e, label, line)
                for s, e, label, line in raw
            ]
    else:
        entries = read_textgrid_tier(label_path, options["tier"])
        raw = textgrid_segments(entries, sample_rate, label_path)
    mapping, _ = options["label_map"]
    segments = prepare_segments(
        label_path,
        raw,
        int(waveform.shape[0]),
        options["silence_label"],
        mapping,
        options["tolerance"],
        stats,
    )
    return Utterance(
        id=identifier,
        path=audio_path,
        sample_rate=sample_rate,
        waveform=waveform,
        segments=segments,
        label_path=label_path,
        speaker=speaker,
    )


def read_npz_utterance(path, identifier, speaker, options, stats):
    """The `Utterance` of an `.npz` file of `features` and frame `labels`."""
    if not zipfile.is_zipfile(path):
        raise data_error(path, None, "is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = sorted(data.files)
            missing = [key for key in ("features", "labels") if key not in keys]
            if missing:
                raise data_error(
                    path,
                    None,
                    f"has no array {missing[0]!r}: expected 'features' (frames, channels) and "
                    f"'labels' (frames,). Arrays found: {keys}",
                )
            features, labels = data["features"], data["labels"]
    except DataError:
        raise
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,  # a compression method zipfile does not know
        RuntimeError,  # an encrypted member
        MemoryError,  # an array header giving a shape too large to allocate
    ) as error:
        raise data_error(path, None, f"is not a readable .npz file ({error})") from None
    except ValueError as error:
        if "pickle" not in str(error):
            raise data_error(path, None, f"holds an array NumPy cannot read ({error})") from None
        raise data_error(
            path,
            None,
            f"cannot be read without pickle ({error}): save 'features' as a float array and "
            "'labels' as a string or integer array",
        ) from None
    for key, value in (("features", features), ("labels", labels)):
        if not isinstance(value, np.ndarray):  # a member without the .npy header
            raise data_error(
                path,
                None,
                f"holds {key!r} as raw bytes, not as a NumPy array (.npy): save it with "
                "numpy.savez",
            )
    if (
        features.ndim != 2
        or features.dtype.kind not in "fiu"
        or features.shape[0] == 0
        or features.shape[1] == 0
    ):
        raise data_error(
            path,
            None,
            "expected 'features' to be a non-empty numeric array (frames, channels), with at "
            f"least one channel. Received: shape {features.shape}, dtype {features.dtype}",
        )
    if labels.ndim != 1 or labels.dtype.kind not in "USiu":
        raise data_error(
            path,
            None,
            "expected 'labels' to be a 1-D array of strings or integers (frames,). "
            f"Received: shape {labels.shape}, dtype {labels.dtype}",
        )
    if labels.shape[0] != features.shape[0]:
        raise data_error(
            path,
            None,
            "expected one label per feature frame. Received: "
            f"{features.shape[0]} frames of features and {labels.shape[0]} labels",
        )
    features = features.astype(np.float32)
    if not np.all(np.isfinite(features)):
        bad = int(np.sum(~np.isfinite(features)))
        raise data_error(path, None, f"holds {bad} non-finite feature values (NaN or inf)")
    labels = [_npz_label(path, frame, label) for frame, label in enumerate(labels.tolist())]
    labels = [label.strip() or options["silence_label"] for label in labels]
    mapping, _ = options["label_map"]
    labels = fold_frame_labels(path, labels, mapping, stats)
    return Utterance(
        id=identifier,
        path=path,
        sample_rate=None,
        waveform=None,
        features=features,
        frame_labels=np.array(labels, dtype=str),
        label_path=path,
        speaker=speaker,
    )


def _npz_label(path, frame, label):
    """One frame label of an `.npz` file as text: bytes must be UTF-8, text no lone
    surrogate (TensorFlow refuses both, far from the file)."""
    try:
        if isinstance(label, bytes):
            return label.decode("utf-8")
        label = str(label)
        label.encode("utf-8")
        return label
    except UnicodeError as error:
        raise data_error(
            path,
            None,
            f"holds 'labels' that are not UTF-8 text: frame {frame} is {label!r} ({error.reason})",
        ) from None
