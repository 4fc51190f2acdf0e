#!/usr/bin/env python3
"""Build the default English->Spanish parallel corpus for the machine-translation recipe.

Output: one verse pair per line, "english<TAB>spanish", UTF-8, no header.

Source texts (both public domain), verse-aligned through their SWORD versifications:
  * English: World English Bible (2020 stable text), SWORD module engWEB2015eb,
      Debian bookworm package   sword-text-web 426.0-1     (apt-get download sword-text-web)
  * Spanish: Reina-Valera 1909, SWORD module spaRV1909eb,
      Debian bookworm package   sword-text-sparv 2.60-1    (apt-get download sword-text-sparv)
  * Versification tables (book / chapter / verse counts of the KJV and NRSVA schemes, needed
    to locate verses in a SWORD index); read as plain data with ast.literal_eval, never executed:
      Debian bookworm package   python3-pysword 0.2.8-2    (apt-get download python3-pysword),
      MIT/Expat

usage: python3 build_translation.py [--src DIR] [--out FILE] [--stats]
Only the Python standard library is used; the output is byte-for-byte deterministic
(no dependence on Python's hash seed, random module, locale or dict ordering).
"""

import argparse
import ast
import collections
import hashlib
import html
import io
import lzma
import math
import os
import re
import statistics
import struct
import sys
import tarfile
import zlib

INPUTS = {
    "web": (
        "sword-text-web_426.0-1_all.deb",
        "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
    ),
    "sparv": (
        "sword-text-sparv_2.60-1_all.deb",
        "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
    ),
    "pysword": (
        "python3-pysword_0.2.8-2_all.deb",
        "7ccb720ee06c12e0f2d0335a340b3e0b17c79b42d8540ba45f4bd4b9e6f7e9c6",
    ),
}
MODULES = {  # key: (module directory inside the .deb, versification named in its .conf)
    "web": ("usr/share/sword/modules/texts/ztext/engWEB2015eb/", "nrsva"),
    "sparv": ("usr/share/sword/modules/texts/ztext/spaRV1909eb/", "kjv"),
}
CANONS = "usr/lib/python3/dist-packages/pysword/canons.py"
MIN_WORDS, MAX_WORDS = 3, 25  # whitespace tokens, applied to each side
MAX_LEN_RATIO = 2.0  # max(chars)/min(chars) between the two sides


# ----------------------------------------------------------------------------- inputs
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deb_files(path, prefix):
    """{path relative to / : bytes} for regular files under prefix inside a .deb."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"!<arch>\n", path
    pos, data_tar = 8, None
    while pos < len(raw):
        name = raw[pos : pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48 : pos + 58].decode().strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            data_tar = body
        pos += 60 + size + (size & 1)
    assert data_tar is not None, path
    if data_tar[:6] == b"\xfd7zXZ\x00":
        data_tar = lzma.decompress(data_tar)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data_tar), mode="r:") as tf:
        for m in tf.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and name.startswith(prefix):
                out[name] = tf.extractfile(m).read()
    return out


# ----------------------------------------------------------------------------- SWORD zText
def ztext_entries(files, moddir, testament):
    """All index entries (raw OSIS strings) of one testament of a zText module (BlockType=BOOK)."""
    bzs = files[moddir + testament + ".bzs"]
    bzv = files[moddir + testament + ".bzv"]
    bzz = files[moddir + testament + ".bzz"]
    blocks = {}
    entries = []
    for i in range(len(bzv) // 10):
        buf, start, size = struct.unpack_from("<IIH", bzv, i * 10)
        if size == 0:
            entries.append("")
            continue
        if buf not in blocks:
            off, csize, _usize = struct.unpack_from("<III", bzs, buf * 12)
            blocks[buf] = zlib.decompress(bzz[off : off + csize])
        entries.append(blocks[buf][start : start + size].decode("utf-8"))
    return entries


def verses(files, moddir, canon):
    """{(osis_book, chapter, verse): raw text} following SWORD's index layout:
    per testament [0]=empty, [1]=testament heading, then per book a book heading and
    per chapter a chapter heading followed by its verses."""
    out = {}
    for testament in ("ot", "nt"):
        entries = ztext_entries(files, moddir, testament)
        idx = 2
        for _name, osis, _abbr, chapter_lengths in canon[testament]:
            idx += 1  # book heading
            for ch, n in enumerate(chapter_lengths, 1):
                idx += 1  # chapter heading
                for v in range(1, n + 1):
                    out[(osis, ch, v)] = entries[idx] if idx < len(entries) else ""
                    idx += 1
        assert idx == len(entries), (moddir, testament, idx, len(entries))
    return out


# ----------------------------------------------------------------------------- cleaning
BACKMATTER = re.compile(r"<div\b[^>]*type=\"glossary\".*", re.S)  # WEB glossary after Rev 22:21
NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)  # footnotes, cross-references
SPEAKER = re.compile(r"<speaker\b[^>]*>.*?</speaker>", re.S)  # "Beloved" labels in Song
NONCANON_TITLE = re.compile(r"<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.S)
# RV1909 tags translator-added words as <transChange>; where such an element touches a <w>
# element the module has no space. Mark the junction, decide after the tags are gone.
JUNCTION = re.compile(r"</transChange><w\b[^>]*>|</w><transChange\b[^>]*>")
TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")
CLITIC = re.compile(r"(\w+)\x00(lo|la|los|las|le|les|se|me|te|nos|os)(?!\w)")
NOT_A_VERB = {
    "Jehová",
    "también",
    "éste",
    "ésta",
    "Josué",
    "sólo",
    "después",
    "allí",
    "aquí",
    "así",
    "además",
    "aquél",
    "él",
    "más",
}
ACCENTED = re.compile(r"[áéíóú]")
CAPS_WORD = re.compile(r"\b([A-ZÁÉÍÓÚÑÜ])([A-ZÁÉÍÓÚÑÜ]+)\b")


def join_clitic(m):
    """verb + enclitic pronoun split by a <transChange> junction: 'sellad|lo' -> 'selladlo'."""
    left, right = m.group(1), m.group(2)
    verb = left.endswith(("r", "d", "ndo")) or (
        len(left) > 3 and ACCENTED.search(left) and left not in NOT_A_VERB
    )
    return left + ("" if verb else " ") + right


def clean(raw, lang):
    t = BACKMATTER.sub(" ", raw)
    t = NOTE.sub(" ", t)
    t = SPEAKER.sub(" ", t)
    t = NONCANON_TITLE.sub(" ", t)
    t = t.replace("</title>", " ")  # canonical psalm titles (part of verse 1 in RV1909): kept
    t = JUNCTION.sub("\x00", t)
    t = TAG.sub("", t)
    t = html.unescape(t)
    t = CLITIC.sub(join_clitic, t)
    t = re.sub(r"(?<=\w)\x00(?=\w)", " ", t).replace("\x00", "")
    if lang == "en":
        # double quotes are dropped (they are unbalanced across verses)
        t = t.replace("\u201c", "").replace("\u201d", "")
        t = re.sub(r"(?<=\w)\u2019(?=\w)", "'", t)  # apostrophe: God’s -> God's
        t = re.sub(r"(?<=s)\u2019(?= [a-z])", "'", t)  # sons’ hands -> sons' hands
        t = t.replace("\u2018", "").replace("\u2019", "")  # remaining single quotes
    t = SPACE.sub(" ", t).strip()
    t = re.sub(r" +([,;:.!?)])", r"\1", t)
    t = re.sub(r"([¡¿(]) +", r"\1", t)
    return t


def decap_first(t):
    """RV1909 prints the first word of every chapter in capitals ("EN el principio",
    "Salmo de David. JEHOVÁ es mi pastor"): the first all-capital word (2+ letters) of a
    chapter's verse 1 is written "En", "Jehová"."""
    return CAPS_WORD.sub(lambda m: m.group(1) + m.group(2).lower(), t, count=1)


def drop_subscription(t):
    """RV1909 appends the traditional subscriptions to the last verse of the Pauline epistles
    ("... Amén. Escrita de Roma á los Efesios por Tichîco."): cut after "Amén."."""
    i = t.rfind("Amén. ")
    return t[: i + 5] if i >= 0 else t


# ----------------------------------------------------------------------------- alignment checks
MU = 0.04  # typical log(len(en chars) / len(es chars)) of a verse pair
MARGIN = 0.05


def length_cost(a, b):
    return min(1.0, abs(math.log(len(a) / len(b)) - MU))


def shifted_verses(en, es):
    """Verse numbers of one chapter ({verse: text} per side, same keys) whose +-2 verse window
    fits a one-verse shift better than the straight pairing (versification differences such as
    Num 13, 1Sam 24, Jonah 2)."""
    bad = set()
    for v in en:
        win = [k for k in range(v - 2, v + 3) if k in en]
        c0 = sum(length_cost(en[k], es[k]) for k in win) / len(win)
        for d in (1, -1):
            pr = [length_cost(en[k], es[k + d]) for k in win if k + d in es]
            if len(pr) >= 2 and sum(pr) / len(pr) < c0 - MARGIN:
                bad.add(v)
    return bad


# ----------------------------------------------------------------------------- main
def load_canons(src):
    text = deb_files(os.path.join(src, INPUTS["pysword"][0]), CANONS)[CANONS].decode("utf-8")
    i = text.index("\ncanons = {")
    return ast.literal_eval(text[i + len("\ncanons = ") :])  # a dict literal, not executed


def build(src):
    for _key, (fname, digest) in sorted(INPUTS.items()):
        got = sha256(os.path.join(src, fname))
        if got != digest:
            sys.exit(f"sha256 mismatch for {fname}: {got} (expected {digest})")
    canons = load_canons(src)
    text = {}
    for key in ("web", "sparv"):
        moddir, versification = MODULES[key]
        files = deb_files(os.path.join(src, INPUTS[key][0]), moddir)
        text[key] = verses(files, moddir, canons[versification])
    lens = {}
    for key, versification in (("web", "nrsva"), ("sparv", "kjv")):
        for t in ("ot", "nt"):
            for _n, osis, _a, chapter_lengths in canons[versification][t]:
                for ch, n in enumerate(chapter_lengths, 1):
                    lens.setdefault((osis, ch), {})[key] = n
    last_nt_verse = {}
    for _n, osis, _a, chapter_lengths in canons["kjv"]["nt"]:
        last_nt_verse[osis] = (osis, len(chapter_lengths), chapter_lengths[-1])

    # verse pairs in canonical (KJV) order; chapters with different verse counts are skipped
    chapters = {}
    counts = {"kjv_verses": 0, "count_mismatch": 0, "empty": 0}
    for key in text["sparv"]:  # dict order = canonical order
        counts["kjv_verses"] += 1
        book, ch, v = key
        if lens[(book, ch)].get("web") != lens[(book, ch)]["sparv"]:
            counts["count_mismatch"] += 1
            continue
        en, es = clean(text["web"][key], "en"), clean(text["sparv"][key], "es")
        if v == 1:
            es = decap_first(es)
        if last_nt_verse.get(book) == key:
            es = drop_subscription(es)
        if not en or not es:
            counts["empty"] += 1
            continue
        chapters.setdefault((book, ch), ({}, {}))
        chapters[(book, ch)][0][v] = en
        chapters[(book, ch)][1][v] = es

    pairs = []
    counts.update(shifted=0, shifted_chapter=0, ratio=0, length=0, dup=0)
    seen = set()
    for (book, ch), (en, es) in chapters.items():
        bad = shifted_verses(en, es)
        if len(bad) >= 0.25 * len(en):  # mostly shifted: drop the chapter
            counts["shifted_chapter"] += len(en)
            continue
        for v in en:
            e, s = en[v], es[v]
            if v in bad:
                counts["shifted"] += 1
                continue
            if max(len(e), len(s)) > MAX_LEN_RATIO * min(len(e), len(s)):
                counts["ratio"] += 1
                continue
            ne, ns = len(e.split()), len(s.split())
            if not (MIN_WORDS <= ne <= MAX_WORDS and MIN_WORDS <= ns <= MAX_WORDS):
                counts["length"] += 1
                continue
            if e in seen:  # one translation per English source
                counts["dup"] += 1
                continue
            seen.add(e)
            pairs.append((e, s, f"{book}.{ch}.{v}"))
    # deterministic shuffle: order by SHA-256 of the line
    lines = sorted(
        (f"{e}\t{s}\n" for e, s, _ in pairs),
        key=lambda line: (hashlib.sha256(line.encode("utf-8")).hexdigest(), line),
    )
    return lines, pairs, counts


def describe(lines, counts):
    en = [line.rstrip("\n").split("\t")[0] for line in lines]
    es = [line.rstrip("\n").split("\t")[1] for line in lines]
    size = sum(len(line.encode("utf-8")) for line in lines)
    out = [f"pairs {len(lines)}   bytes {size}"]
    out.append("filters " + " ".join(f"{k}={v}" for k, v in counts.items()))
    for name, side in (("en", en), ("es", es)):
        n = [len(s.split()) for s in side]
        toks = [w for s in side for w in re.findall(r"\w+|[^\w\s]", s.lower())]
        types = collections.Counter(toks)
        singletons = sum(1 for c in types.values() if c == 1)
        out.append(
            f"{name} words/side mean {statistics.fmean(n):.2f} median {statistics.median(n):g} "
            f"max {max(n)} | lowercased tokens {len(toks)} types {len(types)} singletons "
            f"{singletons} | types covering 95% of tokens {coverage(types, 0.95)}"
        )
    ratio = [len(b.split()) / len(a.split()) for a, b in zip(en, es)]
    out.append(
        f"es/en word ratio mean {statistics.fmean(ratio):.3f} median {statistics.median(ratio):.3f}"
    )
    return "\n".join(out)


def coverage(types, frac):
    total, acc = sum(types.values()), 0
    for i, (_, c) in enumerate(sorted(types.items(), key=lambda kv: (-kv[1], kv[0])), 1):
        acc += c
        if acc >= frac * total:
            return i
    return len(types)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=".", help="folder holding the three .deb files")
    ap.add_argument("--out", default="bible_en_es.tsv")
    ap.add_argument("--stats", action="store_true", help="print corpus statistics")
    args = ap.parse_args()
    lines, _pairs, counts = build(args.src)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    print(f"wrote {args.out}")
    if args.stats:
        print(describe(lines, counts))


if __name__ == "__main__":
    main()
