#!/usr/bin/env python3
"""Build the small bundled speech corpus for the speech-feature tagging recipe.

Output (default recipes/data/speech/): a TIMIT-style tree

    <split>/<voice>/<utterance_id>.wav   16 kHz, mono, 16-bit PCM
    <split>/<voice>/<utterance_id>.phn   "start_sample end_sample label" per line (16 kHz samples),
                                         contiguous, covering [0, number of samples]; silence = sil
    transcripts.tsv                      "<split>/<voice>/<utterance_id><TAB>text", no header

with split in train/dev/test. The voices of dev/ and test/ do not occur in train/ (and no
sentence is used twice), so a held-out score is speaker- and text-independent.

Speech: the espeak-ng formant synthesizer (Debian bookworm package espeak-ng 1.51), driven
through the libespeak-ng C API with ctypes. Phone alignments are the synthesizer's own
espeakEVENT_PHONEME events (sample offsets), with two corrections measured and explained in
docs/datasets/speech.md:
  * the marker of a vowel that follows a nasal or liquid is emitted after the vowel's onset
    transition (synthesize.c, Generate()); such vowel starts are moved back by VOWEL_ONSET_MS;
  * "prepause" closures (stop closures, word-boundary gaps) are generated before the next
    phoneme's marker as runs of exact digital zeros; every zero run of >= MIN_ZERO_RUN_MS is
    relabelled sil (as closures and epenthetic silence are in the usual 39-phone TIMIT folding).
Text: six-word sentences of recipes/data/number_agreement/sentences.csv (public domain), with
[MASK] filled in with is/was (singular) or are/were (plural).

usage: .venv/bin/python docs/datasets/build_speech.py [--out DIR] [--seed N]
needs: apt-get install espeak-ng libespeak-ng1 (libespeak-ng-dev for the header); numpy, scipy.
Deterministic: re-running with the same seed and espeak-ng version gives byte-identical files.
benchmarks/corpora/speech.py imports this module's steps (synthesize, add_ipa, finish_utterances,
fold_rare_phones, write, check_tree) to build corpora of other shapes the same way.
"""

import argparse
import collections
import csv
import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import wave

import numpy as np
from scipy.signal import resample_poly

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SENTENCES = os.path.join(ROOT, "recipes", "data", "number_agreement", "sentences.csv")
DEFAULT_OUT = os.path.join(ROOT, "recipes", "data", "speech")

SEED = 1234
SR_OUT = 16000
SIZE_LIMIT = 9_500_000  # bytes, `du -sb` of the output folder
# seconds of audio per split (~75 / 10 / 15 %); about 9.0 MB of wav in all
BUDGET_S = {"train": 213.0, "dev": 28.5, "test": 42.6}
N_WORDS = 6  # the shortest sentences in sentences.csv (about 1.3-2 s of speech each)

# (split, folder name, espeak-ng voice name, gender of the variant). espeak-ng accents: en-us,
# en (= en-gb), en-gb-x-rp, en-gb-scotland, en-gb-x-gbclan, en-us-nyc, en-029. Variants are from
# espeak-ng-data/voices/!v; only variants without the "echo" setting are used, so that pauses and
# closures are exact digital silence (see the alignment notes). No variant occurs in two splits.
SPEAKERS = [
    ("train", "en-us_m1", "en-us+m1", "m"),
    ("train", "en-us_f1", "en-us+f1", "f"),
    ("train", "en-us_andy", "en-us+Andy", "m"),
    ("train", "en-us-nyc_belinda", "en-us-nyc+belinda", "f"),
    ("train", "en-gb_m3", "en+m3", "m"),
    ("train", "en-gb_linda", "en+linda", "f"),
    ("train", "en-gb-x-rp_m6", "en-gb-x-rp+m6", "m"),
    ("train", "en-gb-x-rp_annie", "en-gb-x-rp+Annie", "f"),
    ("train", "en-gb-scotland_m7", "en-gb-scotland+m7", "m"),
    ("train", "en-029_aunty", "en-029+aunty", "f"),
    ("train", "en-gb-x-gbclan_lee", "en-gb-x-gbclan+Lee", "m"),
    ("dev", "en-us_steph", "en-us+steph", "f"),
    ("dev", "en-gb_m4", "en+m4", "m"),
    ("test", "en-us_m5", "en-us+m5", "m"),
    ("test", "en-us_anika", "en-us+anika", "f"),
    ("test", "en-gb_denis", "en+Denis", "m"),
    ("test", "en-gb_andrea", "en+Andrea", "f"),
]
RATE_WPM = (170, 225)  # espeakRATE, uniform per utterance
PITCH = (38, 62)  # espeakPITCH (50 = the variant's own base pitch)
PITCH_RANGE = (35, 75)  # espeakRANGE (50 = normal intonation)
LEAD_SIL_S = (0.08, 0.16)  # leading silence added before the speech
TRAIL_SIL_S = (0.08, 0.16)  # final silence is padded up to this length
PEAK = (0.35, 0.90)  # peak level of the clean speech, fraction of full scale
SNR_DB = (27.0, 33.0)  # white Gaussian noise, relative to the mean power of the speech segments

VOWEL_ONSET_MS = 14.0  # see the module docstring and speech.md
MIN_ZERO_RUN_MS = 5.0
MIN_COUNT = 20  # phones rarer than this in the whole corpus are folded if FOLD has them
# rare espeak allophones -> the phone they are a variant of: same IPA apart from a diacritic,
# length or voicing, or the same formant data in espeak-ng's phsource/ph_english. Applied only
# to labels with < MIN_COUNT occurrences in the whole corpus; others are kept as they are.
FOLD = {
    "@2": "@",    # schwa of "the"; ChangePhoneme(@), IPA ə
    "@5": "@",    # schwa of "to"; ChangePhoneme(@), IPA ə
    "@-": "@",    # very short schwa
    "aI2": "aI",  # en-gb-scotland allophone, IPA aɪ
    "aI3": "aI@",  # ChangePhoneme(aI@) (en-us IPA aɪɚ)
    "O2": "O:",   # en-us ɔ (strong, off) vs O: ɔː
    "A:": "A@",   # both FMT(vowel/aa_2), IPA ɑː
    "i@3": "i@",  # both FMT(vdiph2/ii@)
    "t[": "t",    # en-029 dental t̪
    "t2": "t",    # ChangePhoneme(t)
    "n-": "n",    # syllabic n̩
    "w#": "w",    # en-gb-scotland ʍ (what)
}

# espeak_Initialize output modes / options and event types (speak_lib.h)
AUDIO_OUTPUT_SYNCHRONOUS = 2
espeakINITIALIZE_PHONEME_EVENTS = 0x0001
espeakINITIALIZE_PHONEME_IPA = 0x0002
espeakEVENT_LIST_TERMINATED, espeakEVENT_WORD, espeakEVENT_PHONEME = 0, 1, 7
espeakRATE, espeakPITCH, espeakRANGE = 1, 3, 4
espeakCHARS_UTF8, espeakPHONEMES, POS_CHARACTER = 1, 0x100, 1

VOWEL_CHARS = set("aeiouyɑɐɒæɛɜəɪɔʊʌɚɝɘɵøœɶɤɯʉɨᵻ")
NASAL_CHARS = set("mnŋɱ")
LIQUID_CHARS = set("lɹrwjɫʋɻ")  # espeak's English liquids: l r w j, linking r- and ;
FRIC_CHARS = set("fvθðszʃʒhxçʍ")
STOP_CHARS = set("ptkbdgɡʔɾ")


# ----------------------------------------------------------------------------- espeak-ng API
class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


class Espeak:
    """One synthesizer per process (espeak_Initialize cannot be repeated safely)."""

    def __init__(self, ipa=False):
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = lib = ctypes.CDLL(name)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        opts = espeakINITIALIZE_PHONEME_EVENTS | (espeakINITIALIZE_PHONEME_IPA if ipa else 0)
        self.rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, opts)
        if self.rate <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self._cb = _CALLBACK(self._on_audio)  # keep a reference
        lib.espeak_SetSynthCallback(self._cb)
        self.data_dir = self._data_dir()

    @staticmethod
    def _data_dir():
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
        m = re.search(r"Data at:\s*(\S+)", out)
        return m.group(1) if m else "/usr/lib/x86_64-linux-gnu/espeak-ng-data"

    def _on_audio(self, wav, n, events):
        i = 0
        while events[i].type != espeakEVENT_LIST_TERMINATED:
            e = events[i]
            if e.type == espeakEVENT_PHONEME:
                name = bytes(e.id.string).split(b"\0")[0].decode("utf-8")
                self._events.append((e.sample, name, e.text_position, e.audio_position))
            elif e.type == espeakEVENT_WORD:
                self._words.append((e.sample, e.text_position, e.length))
            i += 1
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        return 0

    def synth(self, text, voice, rate, pitch, prange, phonemes=False):
        """-> (int16 audio at self.rate, phoneme events [(sample, mnemonic, text_pos, ms)],
        word events [(sample, text_pos, length)])."""
        base, _, variant = voice.partition("+")
        if variant and not os.path.exists(os.path.join(self.data_dir, "voices", "!v", variant)):
            raise ValueError(f"no espeak-ng variant {variant!r}")  # espeak ignores it silently
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng voice {voice!r} not found")
        for par, val in ((espeakRATE, rate), (espeakPITCH, pitch), (espeakRANGE, prange)):
            self.lib.espeak_SetParameter(par, int(val), 0)
        self._chunks, self._events, self._words = [], [], []
        data = text.encode("utf-8") + b"\0"
        flags = espeakCHARS_UTF8 | (espeakPHONEMES if phonemes else 0)  # [[...]] = phonemes
        err = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, flags, None, None)
        if err != 0 or self.lib.espeak_Synchronize() != 0:
            raise RuntimeError(f"espeak_Synth failed ({err})")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio.astype(np.int16), list(self._events), list(self._words)


def espeak_version():
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    return out.split("Data at")[0].strip()


# ----------------------------------------------------------------------------- text
def load_sentences(lengths=(N_WORDS,)):
    """-> [(row, text, label)] sentences of `lengths` words ([MASK] not yet filled), csv order."""
    out = []
    with open(SENTENCES, newline="", encoding="utf-8") as f:
        for row, rec in enumerate(csv.DictReader(f)):
            t = rec["text"]
            if len(t.split()) not in lengths or re.search(r"[^A-Za-z \[\].,;:!?'\"-]", t):
                continue
            out.append((row, t, rec["label"]))
    return out


def fill_mask(text, label, rng):
    """is/was for singular, are/were for plural; past or present by the seed ("I" -> was)."""
    before = text.split("[MASK]")[0].split()
    if label == "singular":
        if before and before[-1].strip('"') == "I":
            verb = "was"
        else:
            verb = ("is", "was")[rng.integers(2)]
    else:
        verb = ("are", "were")[rng.integers(2)]
    t = text.replace("[MASK]", verb).replace("--", ", ").replace('"', "")
    t = re.sub(r"\s+", " ", t).strip()
    return t[0].upper() + t[1:]


# ----------------------------------------------------------------------------- alignment
def ipa_class(ipa, mnemonic=""):
    if mnemonic == ";":  # linking [j] (phsource/phonemes: liquid, no IPA)
        return "liquid"
    s = ipa.replace("ˈ", "").replace("ˌ", "")
    if not s:
        return "other"  # e.g. a very short schwa with no IPA
    c = s[0]
    if c in VOWEL_CHARS:
        return "vowel"
    if c in NASAL_CHARS:
        return "nasal"
    if c in LIQUID_CHARS:
        return "liquid"
    if c in FRIC_CHARS:
        return "fricative"
    if c in STOP_CHARS:
        return "stop"
    return "other"


def raw_segments(events, ipas, n):
    """Phoneme events -> contiguous [start, end, label, class] at the synthesizer rate."""
    segs, dropped = [], 0
    pos = [e[0] for e in events] + [n]
    if pos[0] > 0:
        segs.append([0, pos[0], "sil", "sil"])
    for i, (s, name, *_) in enumerate(events):
        e = max(pos[i + 1], s)
        label, cls = ("sil", "sil") if name.startswith("_") else (name, ipa_class(ipas[i], name))
        if e > s:  # zero-length events (pause markers, some post-vocalic l/r) are dropped
            segs.append([s, e, label, cls])
        else:
            dropped += 1
    return segs, dropped


def dropped_names(events, n):
    pos = [e[0] for e in events] + [n]
    return [name for i, (s, name, *_) in enumerate(events) if pos[i + 1] <= s]


def shift_vowel_onsets(segs, rate):
    """Move the start of a vowel that follows a nasal/liquid back by VOWEL_ONSET_MS."""
    d = int(round(VOWEL_ONSET_MS * rate / 1000))
    moved = 0
    for i in range(1, len(segs)):
        prev, cur = segs[i - 1], segs[i]
        if cur[3] == "vowel" and prev[3] in ("nasal", "liquid") and prev[1] == cur[0]:
            step = min(d, (cur[0] - prev[0]) // 2)
            prev[1] -= step
            cur[0] -= step
            moved += 1
    return moved


def zero_runs(audio, min_len):
    z = np.concatenate([[0], (audio == 0).astype(np.int8), [0]])
    dz = np.diff(z)
    starts, ends = np.nonzero(dz == 1)[0], np.nonzero(dz == -1)[0]
    keep = ends - starts >= min_len
    return list(zip(starts[keep], ends[keep]))


def paint(segs, n):
    """segments -> per-sample label list index array + label table (for re-segmenting)."""
    labels, idx = [], np.zeros(n, np.int32)
    for s, e, lab, cls in segs:
        labels.append((lab, cls))
        idx[s:e] = len(labels) - 1
    return labels, idx


def unpaint(labels, idx):
    segs = []
    change = np.nonzero(np.diff(idx))[0] + 1
    bounds = [0] + change.tolist() + [len(idx)]
    for s, e in zip(bounds[:-1], bounds[1:]):
        lab, cls = labels[idx[s]]
        if segs and segs[-1][2] == lab == "sil":
            segs[-1][1] = e
        else:
            segs.append([s, e, lab, cls])
    return segs


def silence_zero_runs(segs, audio, rate):
    """Relabel runs of exact digital zeros (>= MIN_ZERO_RUN_MS) as sil."""
    labels, idx = paint(segs, len(audio))
    labels.append(("sil", "sil"))
    sil = len(labels) - 1
    st = collections.Counter()
    for s, e in zero_runs(audio, int(MIN_ZERO_RUN_MS * rate / 1000)):
        inside = [k for k in np.unique(idx[s:e]) if labels[k][0] != "sil"]
        if inside:
            st["zero_runs_relabelled_sil"] += 1
            st["zero_run_ms_relabelled_sil"] += round(1000 * int(np.sum(idx[s:e] != sil)) / rate)
            for k in inside:
                a, b = np.nonzero(idx == k)[0][[0, -1]]
                if a < s and b >= e:
                    st["zero_runs_inside_a_phone"] += 1  # the phone keeps both parts
        idx[s:e] = sil
    out = unpaint(labels, idx)
    left = set(idx.tolist())
    st.update(f"phone_entirely_zero[{lab}]" for k, (lab, _) in enumerate(labels)
              if lab != "sil" and k not in left)
    return out, st


def resample_segments(segs, n_in, n_out):
    """Map boundaries to the output rate (round), keep contiguity, drop empty segments."""
    out = []
    for s, e, lab, cls in segs:
        s2 = int(round(s * n_out / n_in)) if s else 0
        e2 = n_out if e == n_in else int(round(e * n_out / n_in))
        if e2 <= s2:
            continue
        if out:
            s2 = out[-1][1]
            if e2 <= s2:
                continue
        if out and out[-1][2] == lab == "sil":
            out[-1][1] = e2
        else:
            out.append([s2, e2, lab, cls])
    out[0][0] = 0
    out[-1][1] = n_out
    return out


# ----------------------------------------------------------------------------- build
def ipa_worker():
    """Child process: same syntheses with IPA phoneme names (a fresh espeak_Initialize)."""
    jobs = json.load(sys.stdin)
    es = Espeak(ipa=True)
    res = []
    for j in jobs:
        audio, ev, _ = es.synth(j["text"], j["voice"], j["rate"], j["pitch"], j["range"])
        res.append({"n": len(audio), "events": [[e[0], e[1]] for e in ev]})
    json.dump(res, sys.stdout)


def frame_db(x, sr):
    """log energy (dB re full scale) of 25 ms frames every 10 ms, frame centres in samples."""
    win, hop = int(0.025 * sr), int(0.010 * sr)
    nfr = max(1, 1 + (len(x) - win) // hop)
    fr = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:nfr] / 32768.0
    return 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-10), np.arange(nfr) * hop + win // 2


def boundary_profiles(utts, key, pairs):
    """Mean 5 ms energy (dB) around each kind of labelled boundary, and where it crosses half
    way between the level before and the peak (rises) or the peak and the level after (falls),
    in ms relative to the labelled boundary."""
    ms = SR_OUT // 1000
    W = 60 * ms
    acc = collections.defaultdict(list)
    for u in utts:
        x = u["clean"]
        env = 10 * np.log10(np.convolve(x ** 2, np.ones(5 * ms) / (5 * ms), mode="same") + 1)
        segs = u[key]
        for a, b in zip(segs[:-1], segs[1:]):
            k = pairs.get((a[3], b[3]))
            if k and W <= b[0] < len(x) - W:
                acc[k].append(env[b[0] - W:b[0] + W])
    out = {}
    for k, v in acc.items():
        m = np.mean(v, axis=0)
        if k.startswith("vowel->"):  # fall
            j = W - 40 * ms + int(np.argmax(m[W - 40 * ms:W + 30 * ms]))
            half = (m[j] + m[W + 25 * ms:W + 40 * ms].mean()) / 2
            while j < 2 * W - 1 and m[j + 1] > half:
                j += 1
        else:  # rise
            j = W - 30 * ms + int(np.argmax(m[W - 30 * ms:W + 40 * ms]))
            half = (m[j] + m[W - 40 * ms:W - 25 * ms].mean()) / 2
            while j > 0 and m[j - 1] > half:
                j -= 1
        out[k] = (len(v), (j - W) / ms)
    return out


def synthesize(es, log, sentence, seed, split, folder, voice, rate_wpm=RATE_WPM):
    """Fills the sentence's [MASK], draws the utterance's parameters from `[seed, row]` and
    synthesizes it: -> the utterance record (raw audio at es.rate, events, params). Every
    synthesis is appended to `log`, kept or not: espeak-ng keeps some state between calls,
    so `add_ipa` replays all of them in order."""
    row, raw, label = sentence
    rng = np.random.default_rng([seed, row])
    text = fill_mask(raw, label, rng)
    p = {"rate": int(rng.integers(rate_wpm[0], rate_wpm[1] + 1)),
         "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
         "range": int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
         "lead": float(rng.uniform(*LEAD_SIL_S)),
         "trail": float(rng.uniform(*TRAIL_SIL_S)),
         "peak": float(rng.uniform(*PEAK)),
         "snr": float(rng.uniform(*SNR_DB))}
    audio, ev, _ = es.synth(text, voice, p["rate"], p["pitch"], p["range"])
    log.append(dict(text=text, voice=voice, rate=p["rate"], pitch=p["pitch"],
                    range=p["range"]))
    return dict(split=split, folder=folder, voice=voice, row=row, text=text, params=p,
                raw_audio=audio, events=ev, uid=f"s{row:05d}",
                seed_key=[seed, row, 1], log_ix=len(log) - 1)


def seconds_after_padding(u, rate):
    """Duration of a synthesized utterance once the silences are added."""
    audio, p = u["raw_audio"], u["params"]
    nz = np.nonzero(audio)[0]
    tail_zero = (len(audio) - 1 - nz[-1]) / rate if len(nz) else 0.0
    return len(audio) / rate + p["lead"] + max(0.0, p["trail"] - tail_zero)


def build(out_dir, seed):
    es = Espeak()
    print(f"espeak-ng: {espeak_version()}; synthesizer rate {es.rate} Hz")
    sents = load_sentences()
    order = np.random.default_rng(seed).permutation(len(sents))
    queue = [sents[i] for i in order]
    utts, log = [], []  # log: every synthesis in order (espeak-ng keeps some state between calls)
    for split in ("train", "dev", "test"):
        spk = [s for s in SPEAKERS if s[0] == split]
        total, k, full = 0.0, 0, False
        while not full:
            _, folder, voice, _ = spk[k % len(spk)]
            k += 1
            u = synthesize(es, log, queue.pop(0), seed, split, folder, voice)
            dur = seconds_after_padding(u, es.rate)
            if total + dur > BUDGET_S[split]:
                full = True
                break
            total += dur
            utts.append(u)
        print(f"{split}: {sum(u['split'] == split for u in utts)} utterances, ~{total:.1f} s")

    ipa_of = add_ipa(utts, log)
    stats = finish_utterances(utts, es.rate)
    folded = fold_rare_phones(utts)
    write(out_dir, utts)
    report(utts, stats, folded, ipa_of)
    validate(out_dir, utts)


def add_ipa(utts, log):
    """Adds u["ipas"], the IPA names of each utterance's events, from a second process that
    replays the same syntheses in the same order (for the phone classes and the doc).
    -> {(accent, mnemonic): Counter of IPA names}."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--ipa-worker"],
                          input=json.dumps(log), capture_output=True, text=True, check=True)
    ipa_res = json.loads(proc.stdout)
    ipa_of = collections.defaultdict(collections.Counter)  # (accent, mnemonic) -> IPA counts
    for u in utts:
        r = ipa_res[u["log_ix"]]
        same = [s for s, _ in r["events"]] == [e[0] for e in u["events"]]
        if r["n"] != len(u["raw_audio"]) or not same:
            raise RuntimeError(f"IPA run differs for {u['uid']}")
        u["ipas"] = [p for _, p in r["events"]]
        for (_, m, *_), ipa in zip(u["events"], u["ipas"]):
            ipa_of[(u["voice"].split("+")[0], m)][ipa] += 1
    return ipa_of


def finish_utterances(utts, rate):
    """Synthesizer events -> corrected 16 kHz phone segments u["segs"], and the final noisy
    int16 audio u["audio"] with the silences added (u["raw_audio"] is dropped).
    -> Counter of alignment statistics."""
    stats = collections.Counter()
    for u in utts:
        a22, n22 = u["raw_audio"], len(u["raw_audio"])
        segs, dropped = raw_segments(u["events"], u["ipas"], n22)
        stats["phoneme_events"] += len(u["events"])
        # `sample` (used) agrees with the documented `audio_position` (ms) to the millisecond
        dev_ms = max(abs(ev[0] * 1000 / rate - ev[3]) for ev in u["events"])
        stats["max_ms_between_sample_and_audio_position"] = max(
            stats["max_ms_between_sample_and_audio_position"], int(np.ceil(dev_ms)))
        stats["zero_length_events_dropped"] += dropped
        stats.update(f"zero_length_event_dropped[{m}]" for m in dropped_names(u["events"], n22)
                     if not m.startswith("_"))
        stats["nonzero_samples_in_pauses"] += sum(int(np.count_nonzero(a22[s:e]))
                                                  for s, e, lab, _ in segs if lab == "sil")
        u["segs_events"] = [list(s) for s in segs]  # uncorrected, for the report
        stats["vowel_onsets_moved"] += shift_vowel_onsets(segs, rate)
        segs, st = silence_zero_runs(segs, a22, rate)
        stats.update(st)
        # resample 22050 -> 16000 (zero-phase polyphase filter) and convert the boundaries
        g = np.gcd(SR_OUT, rate)
        x = resample_poly(a22.astype(np.float64), SR_OUT // g, rate // g)
        segs = resample_segments(segs, n22, len(x))
        ev16 = resample_segments(u["segs_events"], n22, len(x))
        # silence padding
        p = u["params"]
        lead = int(round(p["lead"] * SR_OUT))
        tail_sil = segs[-1][1] - segs[-1][0] if segs[-1][2] == "sil" else 0
        trail = max(0, int(round(p["trail"] * SR_OUT)) - tail_sil)
        x = np.concatenate([np.zeros(lead), x, np.zeros(trail)])
        for ss in (segs, ev16):
            for s in ss:
                s[0] += lead
                s[1] += lead
            if ss[0][2] == "sil":
                ss[0][0] = 0
            else:
                ss.insert(0, [0, lead, "sil", "sil"])
            if ss[-1][2] == "sil":
                ss[-1][1] = len(x)
            else:
                ss.append([ss[-1][1], len(x), "sil", "sil"])
        # level and noise
        rng = np.random.default_rng(u["seed_key"])
        x = x * (p["peak"] * 32767.0 / max(1.0, np.max(np.abs(x))))
        speech = np.concatenate([x[s:e] for s, e, lab, _ in segs if lab != "sil"])
        noise_pow = np.mean(speech ** 2) / 10 ** (p["snr"] / 10)
        y = x + rng.normal(0.0, np.sqrt(noise_pow), len(x))
        u["clean"], u["audio"] = x, np.clip(np.round(y), -32768, 32767).astype(np.int16)
        u["segs"], u["segs_ev16"] = segs, ev16
        del u["raw_audio"]
    return stats


def fold_rare_phones(utts):
    """Folds FOLD's phones rarer than MIN_COUNT in the whole corpus into u["segs"] (merging
    runs). -> {folded label: (target, count)}."""
    counts = collections.Counter(s[2] for u in utts for s in u["segs"])
    folded = {}
    for lab, c in counts.items():
        if c < MIN_COUNT and lab in FOLD:
            folded[lab] = (FOLD[lab], c)
    for u in utts:
        new = []
        for s in u["segs"]:
            lab = folded[s[2]][0] if s[2] in folded else s[2]
            if new and new[-1][2] == lab:
                new[-1][1] = s[1]
            else:
                new.append([s[0], s[1], lab, s[3]])
        u["segs"] = new
    return folded


def write(out_dir, utts):
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    lines = []
    for u in sorted(utts, key=lambda u: (u["split"], u["folder"], u["uid"])):
        d = os.path.join(out_dir, u["split"], u["folder"])
        os.makedirs(d, exist_ok=True)
        base = os.path.join(d, u["uid"])
        with wave.open(base + ".wav", "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR_OUT)
            w.writeframes(u["audio"].astype("<i2").tobytes())
        with open(base + ".phn", "w", encoding="utf-8", newline="\n") as f:
            for s, e, lab, _ in u["segs"]:
                f.write(f"{s} {e} {lab}\n")
        lines.append(f"{u['split']}/{u['folder']}/{u['uid']}\t{u['text']}\n")
    with open(os.path.join(out_dir, "transcripts.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)


def report(utts, stats, folded, ipa_of):
    print("\n== alignment checks ==")
    for k, v in stats.items():
        print(f"  {k}: {v}")
    # 1. energy per class on the final (noisy) audio, 25 ms frames labelled by their centre;
    # 2. the same relative to each utterance's peak frame, for frames whose whole window lies
    #    inside one segment
    cls_e = collections.defaultdict(list)
    rel_sil, rel_sp = [], []
    for u in utts:
        db, centres = frame_db(u["audio"].astype(np.float64), SR_OUT)
        for s, e, lab, cls in u["segs"]:
            cls_e[cls].extend(db[(centres >= s) & (centres < e)].tolist())
            inner = db[(centres >= s + 200) & (centres < e - 200)] - db.max()
            (rel_sil if lab == "sil" else rel_sp).extend(inner.tolist())
    print("  mean frame energy (dB re full scale) by class, noisy audio:")
    for c in sorted(cls_e, key=lambda c: -np.mean(cls_e[c])):
        print(f"    {c:9s} frames {len(cls_e[c]):6d}  mean {np.mean(cls_e[c]):6.1f}"
              f"  median {np.median(cls_e[c]):6.1f}")
    print("  frames inside one segment, dB below the utterance's peak frame: sil median "
          f"{np.median(rel_sil):.1f} (95th pct {np.percentile(rel_sil, 95):.1f}); speech median "
          f"{np.median(rel_sp):.1f} (5th pct {np.percentile(rel_sp, 5):.1f})")
    # 3. onset of vowels after nasals/liquids vs after voiced fricatives, before and after the fix
    pairs = {("fricative", "vowel"): "fricative->vowel", ("stop", "vowel"): "stop->vowel",
             ("nasal", "vowel"): "nasal->vowel", ("liquid", "vowel"): "liquid->vowel",
             ("sil", "vowel"): "sil->vowel", ("sil", "fricative"): "sil->fricative",
             ("sil", "stop"): "sil->stop", ("vowel", "nasal"): "vowel->nasal",
             ("vowel", "fricative"): "vowel->fricative", ("vowel", "sil"): "vowel->sil"}
    print("  half-rise / half-fall of the mean 5 ms energy around each kind of boundary (ms,")
    print("  relative to the labelled boundary), with the raw events and after the corrections:")
    raw, fixed = (boundary_profiles(utts, key, pairs) for key in ("segs_ev16", "segs"))
    for k in pairs.values():
        n0, c0 = raw.get(k, (0, float("nan")))
        n1, c1 = fixed.get(k, (0, float("nan")))
        print(f"    {k:17s} raw {c0:+6.1f} (n={n0:4d})   corrected {c1:+6.1f} (n={n1:4d})")
    # 4. corpus tables
    print("\n== corpus ==")
    for split in ("train", "dev", "test"):
        us = [u for u in utts if u["split"] == split]
        secs = sum(len(u["audio"]) for u in us) / SR_OUT
        print(f"  {split}: {len(us)} utterances, {secs:.1f} s, voices "
              + ", ".join(sorted({u['folder'] for u in us})))
    durs = [len(u["audio"]) / SR_OUT for u in utts]
    print(f"  total {len(utts)} utterances, {sum(durs):.1f} s; duration min/median/max "
          f"{min(durs):.2f}/{np.median(durs):.2f}/{max(durs):.2f} s")
    frames = collections.Counter()
    for u in utts:
        for s, e, lab, _ in u["segs"]:
            frames[lab] += e - s
    tot = sum(frames.values())
    print(f"  share of samples labelled sil: {frames['sil'] / tot:.3f}")
    for split in ("train", "dev", "test"):
        us = [u for u in utts if u["split"] == split]
        fr = collections.Counter()
        for u in us:
            for s, e, lab, _ in u["segs"]:
                fr[lab] += e - s
        print(f"    {split}: sil share {fr['sil'] / sum(fr.values()):.3f}")
    print("  folded:", {k: f"{v[0]} ({v[1]})" for k, v in sorted(folded.items())})
    cnt = {sp: collections.Counter(s[2] for u in utts if u["split"] == sp for s in u["segs"])
           for sp in ("train", "dev", "test")}
    allc = cnt["train"] + cnt["dev"] + cnt["test"]
    print(f"  inventory: {len(allc)} labels (incl. sil)")
    print("  label  segs  train  dev  test  ms/seg  IPA by accent")
    final = {m: folded[m][0] if m in folded else m for _, m in ipa_of}
    for lab, c in sorted(allc.items(), key=lambda kv: (-kv[1], kv[0])):
        ms = 1000 * frames[lab] / c / SR_OUT
        ipas = {}
        for (acc, m), ic in sorted(ipa_of.items()):
            if final[m] == lab and not m.startswith("_"):
                for ipa in ic:
                    ipas.setdefault(ipa, set()).add(acc)
        ipa_txt = "; ".join(f"{k or '-'} ({','.join(sorted(v))})" for k, v in sorted(ipas.items()))
        print(f"  {lab:6s} {c:5d} {cnt['train'][lab]:6d} {cnt['dev'][lab]:4d} {cnt['test'][lab]:5d}"
              f" {ms:6.1f}  {ipa_txt}")
    missing = [lab for lab in allc if cnt["train"][lab] == 0]
    print("  labels absent from train:", missing)
    print("  rare raw mnemonics (accent: mnemonic -> IPA):")
    for (acc, m), ic in sorted(ipa_of.items()):
        if m in folded:
            print(f"    {acc}: {m} -> {dict(ic)}")
    print("\n== voices ==")
    for split, folder, voice, gender in SPEAKERS:
        us = [u for u in utts if u["folder"] == folder]
        secs = sum(len(u["audio"]) for u in us) / SR_OUT
        print(f"  {split:5s} {folder:20s} {voice:20s} {gender}  {len(us):3d} utts  {secs:5.1f} s")
    example = collections.defaultdict(list)  # label -> words it occurs in (first 3, en-us/en)
    for u in sorted(utts, key=lambda u: u["voice"].split("+")[0] not in ("en-us", "en")):
        for _, m, pos, _ in u["events"]:
            lab = final.get(m, m)
            w = re.match(r"[A-Za-z'-]+", u["text"][max(0, pos - 1):])
            if not m.startswith("_") and w and len(example[lab]) < 3:
                word = f"{w.group(0).lower()} ({u['voice'].split('+')[0]})"
                if word not in example[lab]:
                    example[lab].append(word)
    print("  example words:")
    for lab in sorted(example):
        print(f"    {lab:4s} {', '.join(example[lab])}")


def check(cond, what):
    if not cond:
        raise SystemExit(f"validation failed: {what}")


def check_tree(out_dir):
    """Checks every wav/phn pair under out_dir: 16 kHz mono 16-bit PCM, and "start end label"
    lines that are contiguous and cover the audio. -> (number of pairs, total samples)."""
    n_files, total_samples = 0, 0
    for dirpath, _, files in os.walk(out_dir):
        for fn in sorted(files):
            if not fn.endswith(".wav"):
                continue
            base = os.path.join(dirpath, fn[:-4])
            with wave.open(base + ".wav", "rb") as w:
                fmt = (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getcomptype())
                check(fmt == (SR_OUT, 1, 2, "NONE"), f"{base}.wav format {fmt}")
                n = w.getnframes()
            prev = 0
            with open(base + ".phn", encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    ok = len(parts) == 3 and line == " ".join(parts) + "\n"
                    check(ok, f"{base}.phn line {line!r}")
                    s, e = int(parts[0]), int(parts[1])
                    check(s == prev and e > s, f"{base}.phn not contiguous at {line!r}")
                    prev = e
            check(prev == n, f"{base}.phn ends at {prev}, the wav has {n} samples")
            n_files += 1
            total_samples += n
    return n_files, total_samples


def tree_sha256(out_dir):
    """sha256 over the relative paths and bytes of every file under out_dir, in sorted order."""
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(out_dir)):
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            h.update(os.path.relpath(p, out_dir).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def validate(out_dir, utts):
    n_files, total_samples = check_tree(out_dir)
    check(n_files == len(utts), "number of files")
    voices = collections.defaultdict(set)
    for u in utts:
        voices[u["split"]].add(u["voice"].split("+")[1])
    shared = voices["train"] & (voices["dev"] | voices["test"]) | voices["dev"] & voices["test"]
    check(not shared, f"voice variants in two splits: {shared}")
    check(len({u["row"] for u in utts}) == len(utts), "a sentence is used twice")
    du = subprocess.run(["du", "-sb", out_dir], capture_output=True, text=True, check=True)
    size = int(du.stdout.split()[0])
    print(f"\nvalidated {n_files} wav/phn pairs, {total_samples / SR_OUT:.1f} s; "
          f"du -sb {size} bytes (limit {SIZE_LIMIT})")
    check(size <= SIZE_LIMIT, f"size {size} > {SIZE_LIMIT}")
    print(f"tree sha256 {tree_sha256(out_dir)}")


def check_vowel_onsets():
    """One-off check behind VOWEL_ONSET_MS (not part of the build): length of the vowel segment
    in [[h'at C'Vt]] after C = m n l r w j versus after d (and b z v D), same vowel and voice.
    The marker of a vowel after a nasal/liquid comes after the vowel's onset part, so those
    vowel segments come out shorter by the length of that part."""
    es = Espeak()
    cons = ["b", "d", "z", "v", "D", "m", "n", "l", "r", "w", "j"]
    vowels = ["a", "E", "I", "0", "V", "i:", "eI", "@", "u:", "aI", "oU"]
    for rate in (170, 200, 225):
        dur = collections.defaultdict(dict)
        for v in vowels:
            for c in cons:
                for voice in ("en-us+m1", "en+m3"):
                    audio, ev, _ = es.synth(f"[[h'at {c}'{v}t]]", voice, rate, 50, 50, True)
                    pos = [e[0] for e in ev] + [len(audio)]
                    names = [e[1] for e in ev]
                    for i in range(len(names) - 1):
                        if names[i] == c and names[i + 1] == v:
                            dur[c][(v, voice)] = (pos[i + 2] - pos[i + 1]) * 1000 / es.rate
                            break
        ref = dur["d"]
        row = []
        for c in cons:
            diff = [ref[k] - d for k, d in dur[c].items() if k in ref]
            row.append(f"{c} {np.mean(diff):+.1f}")
        print(f"rate {rate}: vowel shorter than after d by (ms): " + ", ".join(row))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--check-vowel-onsets", action="store_true",
                    help="only run the check behind VOWEL_ONSET_MS and print it")
    ap.add_argument("--ipa-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.ipa_worker:
        ipa_worker()
    elif a.check_vowel_onsets:
        check_vowel_onsets()
    else:
        build(a.out, a.seed)


if __name__ == "__main__":
    main()
