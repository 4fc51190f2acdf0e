"""Speech corpora: audio files, .phn / TextGrid / .npz labels, label maps, frames, bad files."""

import re
import struct
import wave

import numpy as np
import pytest

from toolkit.data import frame_count
from toolkit.data import frame_labels
from toolkit.data import load_speech_splits
from toolkit.data import read_label_map
from toolkit.data import read_speech_corpus
from toolkit.data import read_waveform

pytestmark = pytest.mark.no_keras_state


# === Fixtures written by hand ===


def ramp(count):
    """int16 samples, all distinct enough to check positions."""
    return ((np.arange(count) % 200) * 100 - 10000).astype(np.int16)


def write_wav(path, samples, rate=16000, width=2, channels=1):
    """A RIFF WAV with Python's `wave` (integer PCM, `width` bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.asarray(samples)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(samples.astype({1: "u1", 2: "<i2", 4: "<i4"}[width]).tobytes())
    return path


def write_wav_chunks(path, fmt_code, bits, rate, data):
    """A RIFF WAV with raw sample bytes (24-bit, float)."""
    block = bits // 8
    header = struct.pack("<HHIIHH", fmt_code, 1, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + header
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def write_sphere(path, samples, rate=16000, byte_format="01", coding="pcm"):
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.asarray(samples, dtype="<i2" if byte_format == "01" else ">i2")
    fields = [
        "NIST_1A",
        "   1024",
        "database_id -s5 TIMIT",
        f"sample_count -i {len(samples)}",
        f"sample_rate -i {rate}",
        "channel_count -i 1",
        f"sample_byte_format -s2 {byte_format}",
        "sample_n_bytes -i 2",
        f"sample_coding -s{len(coding)} {coding}",
        "end_head",
    ]
    header = ("\n".join(fields) + "\n").encode("ascii").ljust(1024, b" ")
    path.write_bytes(header + samples.tobytes())
    return path


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_phn(path, segments):
    return write(path, "".join(f"{start} {end} {label}\n" for start, end, label in segments))


def textgrid_long(tiers, xmax):
    """The long text layout (what MFA writes); `tiers` is {name: [(xmin, xmax, text)]}."""
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0 ",
        f"xmax = {xmax} ",
        "tiers? <exists> ",
        f"size = {len(tiers)} ",
        "item []: ",
    ]
    for number, (name, intervals) in enumerate(tiers.items(), start=1):
        lines += [
            f"    item [{number}]:",
            '        class = "IntervalTier" ',
            f'        name = "{name}" ',
            "        xmin = 0 ",
            f"        xmax = {xmax} ",
            f"        intervals: size = {len(intervals)} ",
        ]
        for index, (start, end, text) in enumerate(intervals, start=1):
            lines += [
                f"        intervals [{index}]:",
                f"            xmin = {start} ",
                f"            xmax = {end} ",
                f'            text = "{text}" ',
            ]
    return "\n".join(lines) + "\n"


def textgrid_short(tiers, xmax):
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(xmax)]
    lines += ["<exists>", str(len(tiers))]
    for name, intervals in tiers.items():
        lines += ['"IntervalTier"', f'"{name}"', "0", str(xmax), str(len(intervals))]
        for start, end, text in intervals:
            lines += [str(start), str(end), f'"{text}"']
    return "\n".join(lines) + "\n"


def phn_utterance(root, stem, segments, count, rate=16000):
    write_wav(root / f"{stem}.wav", ramp(count), rate)
    write_phn(root / f"{stem}.phn", segments)


# === Audio ===


def test_wav_16_bit_is_scaled_to_unit_range(tmp_path):
    path = write_wav(tmp_path / "a.wav", [0, 16384, -32768, 32767])
    waveform, rate = read_waveform(path)
    assert rate == 16000 and waveform.dtype == np.float32
    np.testing.assert_allclose(waveform, [0.0, 0.5, -1.0, 32767 / 32768])


@pytest.mark.parametrize("kind", ["8-bit", "24-bit", "32-bit", "float"])
def test_other_sample_formats(tmp_path, kind):
    expected = np.array([0.0, 0.5, -1.0, 0.25], dtype=np.float32)
    path = tmp_path / "a.wav"
    if kind == "8-bit":
        write_wav(path, [128, 192, 0, 160], width=1)
    elif kind == "32-bit":
        write_wav(path, (expected * 2**31).astype(np.int64), width=4)
    elif kind == "24-bit":
        values = (expected * 2**23).astype(np.int32)
        data = b"".join(struct.pack("<i", int(v))[:3] for v in values)
        write_wav_chunks(path, 1, 24, 16000, data)
    else:
        write_wav_chunks(path, 3, 32, 16000, expected.astype("<f4").tobytes())
    waveform, _ = read_waveform(path)
    np.testing.assert_allclose(waveform, expected)


@pytest.mark.parametrize("byte_format", ["01", "10"])
def test_sphere_16_bit_is_read_directly(tmp_path, byte_format):
    samples = ramp(500)
    sphere, _ = read_waveform(write_sphere(tmp_path / "a.WAV", samples, 8000, byte_format))
    riff, rate = read_waveform(write_wav(tmp_path / "b.wav", samples, 8000))
    assert rate == 8000
    np.testing.assert_array_equal(sphere, riff)


def test_compressed_sphere_says_to_convert(tmp_path):
    path = write_sphere(tmp_path / "a.WAV", ramp(10), coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(ValueError, match=r"a\.WAV: is a NIST SPHERE file that is not .*sph2pipe"):
        read_waveform(path)


def test_bad_audio_files(tmp_path):
    stereo = write_wav(tmp_path / "stereo.wav", np.zeros(20), channels=2)
    with pytest.raises(ValueError, match=r"stereo\.wav: has 2 channels, expected mono"):
        read_waveform(stereo)
    with pytest.raises(ValueError, match=r"empty\.wav: holds no samples \(0 samples at 16000"):
        read_waveform(write_wav(tmp_path / "empty.wav", []))
    with pytest.raises(ValueError, match=r"zero\.wav: is empty \(0 bytes\)"):
        read_waveform(write(tmp_path / "zero.wav", ""))
    with pytest.raises(ValueError, match=r"text\.wav: is neither a RIFF WAV .* b'hello wo'"):
        read_waveform(write(tmp_path / "text.wav", "hello world"))


def test_resampling_keeps_the_signal(tmp_path):
    time = np.arange(800) / 8000
    path = write_wav(tmp_path / "a.wav", np.round(np.sin(2 * np.pi * 440 * time) * 16000), 8000)
    waveform, rate = read_waveform(path, sample_rate=16000)
    assert rate == 16000 and waveform.shape == (1600,) and waveform.dtype == np.float32
    expected = np.sin(2 * np.pi * 440 * np.arange(1600) / 16000) * 16000 / 32768
    np.testing.assert_allclose(waveform[100:-100], expected[100:-100], atol=0.02)
    with pytest.raises(ValueError, match=r"a\.wav: has the sample rate 8000 Hz, expected 16000"):
        read_waveform(path, sample_rate=16000, resample=False)


# === Frames ===


def test_frame_count_convention():
    assert [frame_count(n, 400, 160) for n in (0, 399, 400, 559, 560, 16000)] == [
        0,
        0,
        1,
        1,
        2,
        98,
    ]
    with pytest.raises(ValueError, match="Argument `frame_step` expected a positive integer"):
        frame_count(10, 4, 0)


def test_frame_labels_take_the_label_at_the_frame_centre():
    # 1000 samples, frames of 400 every 160: 4 frames with centres 200, 360, 520, 680.
    segments = [(0, 361, "sil"), (361, 520, "aa"), (520, 600, "b")]
    labels = frame_labels(segments, 1000)
    assert labels.tolist() == ["sil", "sil", "b", "sil"]  # 680 lies in no segment
    assert frame_labels(segments, 1000, silence_label="#").tolist()[-1] == "#"
    assert frame_labels([], 300).tolist() == []
    with pytest.raises(ValueError, match=r"segments\[0\]=\(5, 2, 'a'\)"):
        frame_labels([(5, 2, "a")], 1000)


# === .phn corpora ===


def test_phn_corpus_reads_positions_labels_and_ids(tmp_path):
    phn_utterance(tmp_path / "spk2", "u1", [(0, 1000, "h#"), (1000, 3200, "aa")], 3200)
    phn_utterance(tmp_path / "spk1", "u2", [(0, 2000, "b"), (2000, 4000, "iy")], 4000)
    phn_utterance(tmp_path / "spk1", "u1", [(0, 4800, "k")], 4800)
    write(tmp_path / "spk1" / "u1.txt", "the transcript")
    corpus = read_speech_corpus(tmp_path)
    assert corpus.format == "phn" and corpus.sample_rate == 16000
    assert corpus.ids == ["spk1/u1", "spk1/u2", "spk2/u1"]
    first = corpus.utterances[1]
    assert first.path == str(tmp_path / "spk1" / "u2.wav")
    assert first.label_path == str(tmp_path / "spk1" / "u2.phn")
    assert first.speaker == "spk1" and first.sample_rate == 16000
    assert first.segments == [(0, 2000, "b"), (2000, 4000, "iy")]
    np.testing.assert_allclose(first.waveform, ramp(4000) / 32768)
    # 4000 samples: frames at 0, 160, ..., centres 200 + 160 t; 2000 falls between 1960 and 2120.
    labels = first.labels_per_frame()
    assert len(labels) == frame_count(4000) == 23
    assert labels[:12].tolist() == ["b"] * 12 and labels[12:].tolist() == ["iy"] * 11
    assert corpus.skipped == [
        {
            "file": str(tmp_path / "spk1" / "u1.txt"),
            "line": None,
            "reason": "not a recognized file (suffix '.txt')",
        }
    ]
    assert corpus.notes == []
    assert corpus.label_counts() == {"aa": 13, "b": 12, "h#": 5, "iy": 11, "k": 28}


def test_timit_layout_with_sphere_audio_and_upper_case_names(tmp_path):
    speaker = tmp_path / "TRAIN" / "DR1" / "FCJF0"
    write_sphere(speaker / "SA1.WAV", ramp(3000))
    write_phn(speaker / "SA1.PHN", [(0, 1500, "h#"), (1500, 3000, "sh")])
    write(speaker / "SA1.WRD", "1500 3000 she\n")
    corpus = read_speech_corpus(tmp_path)
    (utterance,) = corpus.utterances
    assert utterance.id == "TRAIN/DR1/FCJF0/SA1" and utterance.speaker == "FCJF0"
    assert utterance.segments == [(0, 1500, "h#"), (1500, 3000, "sh")]
    assert [entry["reason"] for entry in corpus.skipped] == [
        "not a recognized file (suffix '.wrd')"
    ]


def test_converted_copy_beside_sphere_is_preferred(tmp_path):
    write_sphere(tmp_path / "S" / "SA1.WAV", ramp(100), coding="pcm,embedded-shorten-v2.00")
    write_wav(tmp_path / "S" / "SA1.WAV.wav", ramp(100))
    write_phn(tmp_path / "S" / "SA1.PHN", [(0, 100, "h#")])
    corpus = read_speech_corpus(tmp_path)
    assert corpus.ids == ["S/SA1"] and corpus.utterances[0].path.endswith("SA1.WAV.wav")
    assert corpus.skipped[0]["reason"].startswith("audio also given as")


def test_gaps_are_filled_with_silence_and_counted(tmp_path):
    phn_utterance(tmp_path, "a", [(100, 1000, "aa"), (1500, 2000, "b")], 2400)
    corpus = read_speech_corpus(tmp_path, silence_label="pau")
    assert corpus.utterances[0].segments == [
        (0, 100, "pau"),
        (100, 1000, "aa"),
        (1000, 1500, "pau"),
        (1500, 2000, "b"),
        (2000, 2400, "pau"),
    ]
    assert corpus.utterances[0].speaker is None
    assert corpus.notes == [
        "filled 3 gap(s) between segments (1000 samples) with the silence label 'pau'"
    ]


def test_segment_ends_past_the_audio(tmp_path):
    phn_utterance(tmp_path, "a", [(0, 1000, "aa"), (1000, 2000, "b")], 2000)  # end == samples
    assert read_speech_corpus(tmp_path).utterances[0].segments[-1] == (1000, 2000, "b")
    phn_utterance(tmp_path, "a", [(0, 1000, "aa"), (1000, 2160, "b")], 2000)  # one 10 ms step
    corpus = read_speech_corpus(tmp_path)
    assert corpus.utterances[0].segments[-1] == (1000, 2000, "b")
    assert "clipped 1 segment end(s) at most 160 samples past the end" in corpus.notes[0]
    phn_utterance(tmp_path, "a", [(0, 1000, "aa"), (1000, 2161, "b")], 2000)
    with pytest.raises(
        ValueError,
        match=r"a\.phn, line 2: the segment ends past the end of the audio \(2000 samples, "
        r"tolerance 160 samples\)\. Received: start=1000, end=2161, label='b'",
    ):
        read_speech_corpus(tmp_path)
    with pytest.raises(ValueError, match=r"tolerance 0 samples"):
        read_speech_corpus(tmp_path, end_tolerance=0)


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            "0 100 a\n100 b\n",
            r"line 2: expected `start_sample end_sample label`. Received: '100 b'",
        ),
        ("0 100 a\n100 2x0 b\n", r"line 2: expected integer sample positions"),
        ("-5 100 a\n", r"line 1: the segment starts before sample 0. Received: start=-5"),
        ("0 100 a\n300 200 b\n", r"line 2: the segment ends before it starts"),
        (
            "0 100 a\n\n50 200 b\n",
            r"line 3: the segment overlaps the previous one \(line 1, ending at sample 100\)",
        ),
        ("\n\n", r"a\.phn: holds no segments"),
    ],
)
def test_bad_phn_files(tmp_path, lines, message):
    write_wav(tmp_path / "a.wav", ramp(1000))
    write(tmp_path / "a.phn", lines)
    with pytest.raises(ValueError, match=message):
        read_speech_corpus(tmp_path)


def test_missing_partner_files_and_empty_folders(tmp_path):
    write_wav(tmp_path / "s" / "a.wav", ramp(100))
    with pytest.raises(ValueError, match=r"a\.wav: has no label file: expected a \.phn or "):
        read_speech_corpus(tmp_path)
    (tmp_path / "s" / "a.wav").unlink()
    write_phn(tmp_path / "s" / "b.phn", [(0, 10, "a")])
    with pytest.raises(ValueError, match=r"b\.phn: is a label file without its audio"):
        read_speech_corpus(tmp_path)
    (tmp_path / "s" / "b.phn").unlink()
    with pytest.raises(ValueError, match=r"holds no recognized speech files.*Received: \['s'\]"):
        read_speech_corpus(tmp_path)
    write(tmp_path / "s" / "notes.md", "x")
    with pytest.raises(ValueError, match="holds no recognized speech files"):
        read_speech_corpus(tmp_path / "s")
    with pytest.raises(ValueError, match="expected the folder of a speech corpus"):
        read_speech_corpus(tmp_path / "s" / "notes.md")


def test_empty_wav_is_an_error(tmp_path):
    write_wav(tmp_path / "a.wav", [])
    write_phn(tmp_path / "a.phn", [(0, 10, "a")])
    with pytest.raises(ValueError, match=r"a\.wav: holds no samples"):
        read_speech_corpus(tmp_path)


def test_truncated_wav_is_an_error(tmp_path):
    """A WAV cut short (its header counts more samples than it holds) was read as far as
    it went, without a word; truncated SPHERE files were already refused."""
    path = write_wav(tmp_path / "a.wav", np.arange(1000))
    path.write_bytes(path.read_bytes()[:-600])  # 300 of 1000 samples gone
    with pytest.raises(ValueError, match=r"a\.wav: is a truncated WAV file \(Reached EOF"):
        read_waveform(path)


def test_stereo_wav_is_an_error(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(200), channels=2)
    write_phn(tmp_path / "a.phn", [(0, 100, "a")])
    with pytest.raises(ValueError, match=r"a\.wav: has 2 channels, expected mono"):
        read_speech_corpus(tmp_path)


@pytest.mark.parametrize("rate, count, expected_count", [(8000, 800, 1600), (22050, 2205, 1600)])
def test_resampling_rescales_the_alignment(tmp_path, rate, count, expected_count):
    third = count // 3
    phn_utterance(tmp_path, "a", [(0, third, "a"), (third, count, "b")], count, rate)
    corpus = read_speech_corpus(tmp_path)
    utterance = corpus.utterances[0]
    assert utterance.sample_rate == 16000 and utterance.num_samples == expected_count
    boundary = (2 * third * 16000 + rate) // (2 * rate)  # rounded half up
    assert utterance.segments == [(0, boundary, "a"), (boundary, expected_count, "b")]
    assert corpus.notes == [f"resampled 1 audio file(s) to 16000 Hz (from: {{{rate}: 1}})"]


def test_resample_false_names_the_file_and_both_rates(tmp_path):
    phn_utterance(tmp_path, "a", [(0, 800, "a")], 800, 8000)
    with pytest.raises(
        ValueError,
        match=r"a\.wav: has the sample rate 8000 Hz, expected 16000 Hz .*resample=True",
    ):
        read_speech_corpus(tmp_path, resample=False)
    assert read_speech_corpus(tmp_path, sample_rate=8000, resample=False).sample_rate == 8000


# === TextGrid corpora ===

PHONES = [(0, 0.05, ""), (0.05, 0.1, "HH"), (0.1, 0.15, "sp"), (0.15, 0.2, "AY1")]
WORDS = [(0, 0.05, ""), (0.05, 0.2, "hi")]


@pytest.mark.parametrize("layout", [textgrid_long, textgrid_short])
def test_textgrid_long_and_short_layouts(tmp_path, layout):
    write_wav(tmp_path / "spk" / "u.wav", ramp(3200))
    write(tmp_path / "spk" / "u.TextGrid", layout({"words": WORDS, "phones": PHONES}, 0.2))
    corpus = read_speech_corpus(tmp_path)
    assert corpus.format == "textgrid" and corpus.ids == ["spk/u"]
    assert corpus.utterances[0].segments == [
        (0, 800, "sil"),  # an empty interval is silence
        (800, 1600, "HH"),
        (1600, 2400, "sp"),  # MFA's sp / sil / spn are ordinary labels
        (2400, 3200, "AY1"),
    ]
    assert read_speech_corpus(tmp_path, tier="words").utterances[0].segments == [
        (0, 800, "sil"),
        (800, 3200, "hi"),
    ]


def test_textgrid_utf16_with_gap_and_resampled_audio(tmp_path):
    write_wav(tmp_path / "u.wav", ramp(4410), 22050)
    phones = [(0.02, 0.1, "ä"), (0.15, 0.2, "b")]
    write(tmp_path / "u.TextGrid", textgrid_long({"phones": phones}, 0.2), encoding="utf-16")
    corpus = read_speech_corpus(tmp_path)
    assert corpus.utterances[0].num_samples == 3200
    assert corpus.utterances[0].segments == [
        (0, 320, "sil"),
        (320, 1600, "ä"),
        (1600, 2400, "sil"),
        (2400, 3200, "b"),
    ]


def test_textgrid_errors(tmp_path):
    write_wav(tmp_path / "u.wav", ramp(3200))
    path = write(tmp_path / "u.TextGrid", textgrid_long({"words": WORDS}, 0.2))
    with pytest.raises(
        ValueError, match=r"u\.TextGrid: has no tier named 'phones' .*Tiers found: \['words'\]"
    ):
        read_speech_corpus(tmp_path)
    text = textgrid_short({"phones": PHONES}, 0.2)
    write(path, text.replace('"HH"', "0.1"))
    with pytest.raises(
        ValueError, match=r"u\.TextGrid, line 18: expected the text of tier 1 \('phones'\), entry 2"
    ):
        read_speech_corpus(tmp_path)
    write(path, text[: text.index('"sp"')])
    with pytest.raises(ValueError, match=r"u\.TextGrid, line \d+: ends early: expected the text"):
        read_speech_corpus(tmp_path)
    write(path, text.replace("0.1\n0.15", "0.09\n0.15"))
    with pytest.raises(ValueError, match=r"line 19: the segment overlaps the previous one"):
        read_speech_corpus(tmp_path)
    write(path, text.replace("0.15\n0.2", "0.15\n0.3"))
    with pytest.raises(ValueError, match=r"line 22: the segment ends past the end of the audio"):
        read_speech_corpus(tmp_path)
    write(path, "hello")
    with pytest.raises(ValueError, match=r"u\.TextGrid, line 1: ends early: expected the file"):
        read_speech_corpus(tmp_path)


def test_mixed_formats_are_an_error_unless_one_is_chosen(tmp_path):
    phn_utterance(tmp_path / "s1", "a", [(0, 1600, "a")], 1600)
    write_wav(tmp_path / "s2" / "b.wav", ramp(3200))
    write(tmp_path / "s2" / "b.TextGrid", textgrid_long({"phones": PHONES}, 0.2))
    with pytest.raises(ValueError, match=r"mixes the formats \['phn', 'textgrid'\]") as error:
        read_speech_corpus(tmp_path)
    # One file of each format (it showed generator objects), and how to choose one.
    examples = {"phn": str(tmp_path / "s1" / "a.wav"), "textgrid": str(tmp_path / "s2" / "b.wav")}
    assert f"Received e.g. {examples}. Pass `format`" in str(error.value)
    write(tmp_path / "s1" / "a.TextGrid", textgrid_short({"phones": [(0, 0.1, "x")]}, 0.1))
    with pytest.raises(ValueError, match=r"a\.wav: has both a \.phn and a \.TextGrid file"):
        read_speech_corpus(tmp_path)
    corpus = read_speech_corpus(tmp_path, format="textgrid")
    assert corpus.ids == ["s1/a", "s2/b"]
    assert corpus.skipped == [
        {
            "file": str(tmp_path / "s1" / "a.phn"),
            "line": None,
            "reason": "not used: format='textgrid'",
        }
    ]
    (tmp_path / "s1" / "a.phn").unlink()
    np.savez(tmp_path / "s3.npz", features=np.zeros((2, 3)), labels=np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"mixes the formats \['npz', 'textgrid'\]"):
        read_speech_corpus(tmp_path)


# === .npz corpora ===


def test_npz_features_and_frame_labels(tmp_path):
    np.savez(tmp_path / "b.npz", features=np.ones((3, 2)), labels=np.array([1, 2, 1]))
    write(tmp_path / "spk" / "README", "about")
    (tmp_path / "spk").mkdir(exist_ok=True)
    np.savez(tmp_path / "spk" / "a.npz", features=np.zeros((2, 2)), labels=np.array(["x", ""]))
    corpus = read_speech_corpus(tmp_path)
    assert corpus.format == "npz" and corpus.sample_rate is None
    assert corpus.ids == ["b", "spk/a"]
    b, a = corpus.utterances
    assert b.features.dtype == np.float32 and b.features.shape == (3, 2) and b.waveform is None
    assert b.frame_labels.tolist() == ["1", "2", "1"] and a.frame_labels.tolist() == ["x", "sil"]
    assert b.num_frames() == 3 and b.seconds is None and b.segments == []
    assert corpus.label_counts() == {"1": 2, "2": 1, "sil": 1, "x": 1}


def test_bad_npz_files(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, feats=np.zeros((2, 2)), labels=np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"a\.npz: has no array 'features'.*\['feats', 'labels'\]"):
        read_speech_corpus(tmp_path)
    np.savez(path, features=np.zeros((3, 2)), labels=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="Received: 3 frames of features and 2 labels"):
        read_speech_corpus(tmp_path)
    np.savez(path, features=np.zeros((3, 2, 1)), labels=np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"Received: shape \(3, 2, 1\), dtype float64"):
        read_speech_corpus(tmp_path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"a\.npz: is not a readable \.npz file"):
        read_speech_corpus(tmp_path)


def test_npz_files_of_other_widths_are_an_error_naming_the_file(tmp_path):
    """A file of 12 channels among files of 13 used to fail only inside `fit`."""
    for name, channels in (("a", 13), ("b", 13), ("c", 12)):
        features = np.zeros((2, channels))
        np.savez(tmp_path / f"{name}.npz", features=features, labels=np.array(["x", "y"]))
    expected = r"c\.npz: holds features of 12 channels, expected 13 as in .*a\.npz"
    with pytest.raises(ValueError, match=expected):
        read_speech_corpus(tmp_path)
    for split in ("train", "test"):  # across split folders too
        (tmp_path / split).mkdir()
    (tmp_path / "a.npz").rename(tmp_path / "train" / "a.npz")
    (tmp_path / "b.npz").rename(tmp_path / "train" / "b.npz")
    (tmp_path / "c.npz").rename(tmp_path / "test" / "c.npz")
    with pytest.raises(ValueError, match=expected):
        load_speech_splits(tmp_path)


# === Label maps ===


def test_read_label_map(tmp_path):
    path = write(tmp_path / "map.txt", "# 61 -> 39\n\nao aa\nax  ah\nq\nh# -\npau sil\n")
    assert read_label_map(path) == {"ao": "aa", "ax": "ah", "q": None, "h#": None, "pau": "sil"}
    write(path, "ao aa\nax ah\nao ah\n")
    with pytest.raises(
        ValueError, match=r"map\.txt, line 3: maps the label 'ao' a second time \(first on line 1\)"
    ):
        read_label_map(path)
    write(path, "ao aa 39\n")
    with pytest.raises(ValueError, match=r"line 1: expected `from to`.*Received: 'ao aa 39'"):
        read_label_map(path)
    write(path, "# nothing\n")
    with pytest.raises(ValueError, match="holds no mapping"):
        read_label_map(path)


def test_label_map_folds_and_deletes_when_reading(tmp_path):
    segments = [(0, 100, "q"), (100, 200, "ao"), (200, 300, "q"), (300, 400, "ax"), (500, 600, "q")]
    phn_utterance(tmp_path, "a", segments, 600)
    write(tmp_path / "map.txt", "ao aa\nax ah\nq\n")
    corpus = read_speech_corpus(tmp_path, label_map=tmp_path / "map.txt")
    # q at the start merges into the next segment, the others into the previous one
    # (the second q into "aa"; the last into the silence that fills 400-500).
    assert corpus.utterances[0].segments == [(0, 300, "aa"), (300, 400, "ah"), (400, 600, "sil")]
    assert corpus.notes[-1] == (
        "merged 3 segment(s) whose label the label map deletes into the previous segment"
    )
    dict_map = read_speech_corpus(tmp_path, label_map={"ao": "aa", "q": "-"})
    assert [label for _, _, label in dict_map.utterances[0].segments] == ["aa", "ax", "sil"]
    phn_utterance(tmp_path / "only_q", "b", [(0, 100, "q")], 100)
    with pytest.raises(ValueError, match=r"b\.phn: holds only labels the label map deletes"):
        read_speech_corpus(tmp_path / "only_q", label_map={"q": None})


def test_label_map_on_frame_labels(tmp_path):
    labels = np.array(["q", "ao", "q", "q", "ax"])
    np.savez(tmp_path / "a.npz", features=np.zeros((5, 1)), labels=labels)
    corpus = read_speech_corpus(tmp_path, label_map={"ao": "aa", "q": None})
    assert corpus.utterances[0].frame_labels.tolist() == ["aa", "aa", "aa", "aa", "ax"]


def test_bad_arguments(tmp_path):
    phn_utterance(tmp_path, "a", [(0, 100, "a")], 100)
    with pytest.raises(ValueError, match=re.escape("Argument `sample_rate` expected a positive")):
        read_speech_corpus(tmp_path, sample_rate=0)
    with pytest.raises(ValueError, match=re.escape("Argument `format` expected None or one of")):
        read_speech_corpus(tmp_path, format="wav")
    with pytest.raises(ValueError, match=re.escape("Argument `label_map` expected None, a dict")):
        read_speech_corpus(tmp_path, label_map=tmp_path / "missing.txt")
    with pytest.raises(ValueError, match=re.escape("Argument `end_tolerance` expected")):
        read_speech_corpus(tmp_path, end_tolerance=-1)
