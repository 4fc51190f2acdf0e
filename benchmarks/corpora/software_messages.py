"""English -> German software messages, generated: the placeholder-protection benchmark.

Pairs in the style of gettext catalogs (error messages, usage lines, help
lines, progress reports, copyright and bug-report lines), written from this
module's own templates and a small hand-written English -> German lexicon, so
no catalog is copied. Each pair holds text a translation must copy verbatim:
format specifiers (`%s`, `%d`, `%1$s`, `%(name)s`, `{0}`, `{name}`, `$1`,
`${VAR}`), command-line options (`-l`, `--verbose`, `--output=FILE`),
integers, version numbers, URLs, e-mail addresses, file paths, program and
person names; and some text a translation must not copy: decimal and
thousands separators (`1.5 MB` -> `1,5 MB`, `12,345` -> `12.345`), quotes
(`'%s'` -> `»%s«`), `50%` -> `50 %`. A quarter of the pairs join two or three
messages into one long one.

Deterministic: the same `--pairs` and `--seed` give the same file.

    python -m benchmarks.corpora.software_messages --out /tmp/software_messages.tsv

writes `source<TAB>target` lines (what `python -m recipes.translation --data`
reads); `docs/translation_protection.md` reports the recipe on it with and
without placeholder protection.
"""

import argparse
import pathlib
import random

# === Lexicon ===

# (English, English plural, German, German plural, gender: m / f / n)
NOUNS = [
    ("file", "files", "Datei", "Dateien", "f"),
    ("directory", "directories", "Verzeichnis", "Verzeichnisse", "n"),
    ("user", "users", "Benutzer", "Benutzer", "m"),
    ("package", "packages", "Paket", "Pakete", "n"),
    ("option", "options", "Option", "Optionen", "f"),
    ("server", "servers", "Server", "Server", "m"),
    ("connection", "connections", "Verbindung", "Verbindungen", "f"),
    ("device", "devices", "Gerät", "Geräte", "n"),
    ("archive", "archives", "Archiv", "Archive", "n"),
    ("key", "keys", "Schlüssel", "Schlüssel", "m"),
    ("folder", "folders", "Ordner", "Ordner", "m"),
    ("process", "processes", "Prozess", "Prozesse", "m"),
    ("message", "messages", "Nachricht", "Nachrichten", "f"),
    ("window", "windows", "Fenster", "Fenster", "n"),
    ("database", "databases", "Datenbank", "Datenbanken", "f"),
    ("printer", "printers", "Drucker", "Drucker", "m"),
    ("image", "images", "Bild", "Bilder", "n"),
    ("account", "accounts", "Konto", "Konten", "n"),
    ("password", "passwords", "Passwort", "Passwörter", "n"),
    ("network", "networks", "Netzwerk", "Netzwerke", "n"),
    ("page", "pages", "Seite", "Seiten", "f"),
    ("document", "documents", "Dokument", "Dokumente", "n"),
    ("module", "modules", "Modul", "Module", "n"),
    ("library", "libraries", "Bibliothek", "Bibliotheken", "f"),
    ("service", "services", "Dienst", "Dienste", "m"),
    ("partition", "partitions", "Partition", "Partitionen", "f"),
    ("certificate", "certificates", "Zertifikat", "Zertifikate", "n"),
    ("table", "tables", "Tabelle", "Tabellen", "f"),
    ("column", "columns", "Spalte", "Spalten", "f"),
    ("repository", "repositories", "Repository", "Repositorys", "n"),
    ("branch", "branches", "Zweig", "Zweige", "m"),
    ("font", "fonts", "Schrift", "Schriften", "f"),
    ("session", "sessions", "Sitzung", "Sitzungen", "f"),
    ("profile", "profiles", "Profil", "Profile", "n"),
    ("plugin", "plugins", "Plugin", "Plugins", "n"),
    ("volume", "volumes", "Datenträger", "Datenträger", "m"),
]
# (English infinitive, participle, gerund, German infinitive, participle, verbal noun)
VERBS = [
    ("open", "opened", "opening", "öffnen", "geöffnet", "Öffnen"),
    ("read", "read", "reading", "lesen", "gelesen", "Lesen"),
    ("write", "written", "writing", "schreiben", "geschrieben", "Schreiben"),
    ("delete", "deleted", "deleting", "löschen", "gelöscht", "Löschen"),
    ("create", "created", "creating", "erstellen", "erstellt", "Erstellen"),
    ("load", "loaded", "loading", "laden", "geladen", "Laden"),
    ("save", "saved", "saving", "speichern", "gespeichert", "Speichern"),
    ("remove", "removed", "removing", "entfernen", "entfernt", "Entfernen"),
    ("copy", "copied", "copying", "kopieren", "kopiert", "Kopieren"),
    ("move", "moved", "moving", "verschieben", "verschoben", "Verschieben"),
    ("install", "installed", "installing", "installieren", "installiert", "Installieren"),
    ("update", "updated", "updating", "aktualisieren", "aktualisiert", "Aktualisieren"),
    ("start", "started", "starting", "starten", "gestartet", "Starten"),
    ("stop", "stopped", "stopping", "beenden", "beendet", "Beenden"),
    ("rename", "renamed", "renaming", "umbenennen", "umbenannt", "Umbenennen"),
    ("lock", "locked", "locking", "sperren", "gesperrt", "Sperren"),
    ("verify", "verified", "verifying", "überprüfen", "überprüft", "Überprüfen"),
    ("import", "imported", "importing", "importieren", "importiert", "Importieren"),
    ("export", "exported", "exporting", "exportieren", "exportiert", "Exportieren"),
    ("mount", "mounted", "mounting", "einhängen", "eingehängt", "Einhängen"),
]
# (English, German) adjectives, German stem before its ending.
ADJECTIVES = [
    ("valid", "gültig"),
    ("new", "neu"),
    ("temporary", "temporär"),
    ("local", "lokal"),
    ("remote", "entfernt"),
    ("default", "Standard-"),
    ("hidden", "versteckt"),
    ("empty", "leer"),
    ("corrupt", "beschädigt"),
    ("read-only", "schreibgeschützt"),
]
ARTICLES = {  # gender -> definite nominative, accusative, dative; indefinite accusative
    "m": ("der", "den", "dem", "einen"),
    "f": ("die", "die", "der", "eine"),
    "n": ("das", "das", "dem", "ein"),
}
NO_ADJECTIVE = {"m": "kein {}er", "f": "keine {}e", "n": "kein {}es"}  # "no valid X"

# === Spans to copy ===

FORMATS = [
    "%s", "%s", "%s", "%d", "%d", "%u", "%lu", "%i", "%1$s", "%2$s", "%1$d", "%(name)s",
    "%(count)d", "%(path)s", "%(user)s", "%-10s", "%5d", "%.2f", "%x", "%c", "{0}", "{1}",
    "{2}", "{}", "{name}", "{path}", "{count}", "{0:.1f}", "$1", "$2", "${VAR}", "${HOME}",
    "${PREFIX}", "%{file}", "%1", "%2",
]  # fmt: skip
SHORT_OPTIONS = list("abcdefhiklmnopqrstuvwxyzACDFHILNRSTVX")
LONG_OPTIONS = [
    "all", "verbose", "quiet", "help", "version", "force", "recursive", "dry-run",
    "no-clobber", "interactive", "list", "output", "input", "config", "directory", "user",
    "group", "format", "color", "debug", "keep-going", "ignore-case", "max-depth",
    "one-file-system", "preserve", "backup", "suffix", "target-directory", "timeout",
    "no-deps", "prefix", "jobs", "log-file", "sort", "width",
]  # fmt: skip
METAVARIABLES = ["FILE", "DIR", "PATH", "NUM", "SIZE", "USER", "WHEN", "FORMAT", "N", "KEY"]
PROGRAMS = [
    "tar", "gzip", "sed", "grep", "wget", "rsync", "make", "git", "apt-get", "dpkg",
    "cpio", "mkfs", "fsck", "ls", "cp", "mv", "find", "diff", "patch", "sort",
]  # fmt: skip
DIRECTORIES = [
    "usr", "share", "local", "lib", "etc", "var", "log", "tmp", "home", "bin", "opt",
    "cache", "doc", "src", "include", "spool", "run", "data", "backup", "config", "mnt",
]  # fmt: skip
FILE_NAMES = [
    "passwd", "fstab", "hosts", "config.yaml", "settings.ini", "README", "index.html",
    "Makefile", "main.c", "setup.py", "data.csv", "app.log", "core", "id_rsa.pub",
    "libfoo.so.1", "archive.tar.gz", "notes.txt", "report.pdf", "image.png", "sources.list",
]  # fmt: skip
HOSTS = [
    "www.gnu.org", "example.org", "bugs.example.com", "translationproject.org",
    "github.com", "gitlab.gnome.org", "docs.python.org", "mirror.example.net",
    "download.kde.org", "savannah.gnu.org", "localhost", "ftp.debian.org",
]  # fmt: skip
URL_WORDS = [
    "software", "bugs", "manual", "faq", "download", "releases", "docs", "help", "issues",
    "wiki", "latest", "en", "de", "index.html", "contact", "license", "news", "api",
]  # fmt: skip
FIRST_NAMES = [
    "Takashi", "Ulrich", "Jim", "Karl", "Bruno", "Paul", "Ingo", "Roland", "Miguel", "Eva",
    "Anna", "Jakub", "Petra", "Hiroshi", "Olga", "Rafael", "Mei", "Lars", "Sofia", "Tom",
]  # fmt: skip
LAST_NAMES = [
    "Iwai", "Drepper", "Meyering", "Berry", "Haible", "Eggert", "Molnar", "McGrath",
    "de Icaza", "Nowak", "Schmidt", "Kowalski", "Tanaka", "Petrova", "Garcia", "Wang",
    "Larsen", "Rossi", "Becker", "Novak",
]  # fmt: skip
DOMAINS = ["gnu.org", "example.com", "suse.de", "redhat.com", "kernel.org", "posteo.de"]
VARIABLES = ["HOME", "PATH", "LANG", "TMPDIR", "EDITOR", "LC_ALL", "PAGER", "XDG_CONFIG_HOME"]


class Slots:
    """Draws the values of one pair's slots; each value is `(English, German)`."""

    def __init__(self, rng):
        self.rng = rng

    def same(self, value):
        return value, value

    def fmt(self):
        return self.same(self.rng.choice(FORMATS))

    def number(self):
        digits = self.rng.choice([1, 1, 2, 2, 3, 4, 5])
        return self.same(
            str(self.rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits))
        )

    def option(self):
        rng = self.rng
        kind = rng.random()
        if kind < 0.35:
            return self.same("-" + rng.choice(SHORT_OPTIONS))
        if kind < 0.8:
            return self.same("--" + rng.choice(LONG_OPTIONS))
        return self.same(f"--{rng.choice(LONG_OPTIONS)}={rng.choice(METAVARIABLES)}")

    def url(self):
        rng = self.rng
        scheme = rng.choice(["https://", "https://", "http://", "ftp://", ""])
        host = rng.choice(HOSTS) if scheme else "www." + rng.choice(HOSTS).split(".", 1)[-1]
        parts = [rng.choice(URL_WORDS) for _ in range(rng.randrange(0, 3))]
        if rng.random() < 0.3:
            parts.append(str(rng.randrange(1, 5000)))
        return self.same(scheme + host + "".join("/" + part for part in parts))

    def email(self):
        rng = self.rng
        local = rng.choice(
            [
                rng.choice(["bug-", "help-", "info-", ""]) + rng.choice(PROGRAMS).replace("-", ""),
                rng.choice(FIRST_NAMES).lower()
                + rng.choice([".", "_", ""])
                + rng.choice(LAST_NAMES).lower().replace(" ", ""),
            ]
        )
        return self.same(f"{local}@{rng.choice(DOMAINS)}")

    def path(self):
        rng = self.rng
        start = rng.choice(["/", "/", "/", "~/", "./", "../", "~/."])
        folders = [rng.choice(DIRECTORIES) for _ in range(rng.randrange(0, 4))]
        name = rng.choice(FILE_NAMES + DIRECTORIES)
        return self.same(start + "".join(folder + "/" for folder in folders) + name)

    def name(self):
        return self.same(f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}")

    def version(self):
        rng = self.rng
        parts = [str(rng.randrange(0, 10)) for _ in range(rng.choice([2, 3, 3]))]
        return self.same(".".join(parts))

    def decimal(self):
        whole, fraction = self.rng.randrange(0, 1000), self.rng.randrange(0, 10)
        return f"{whole}.{fraction}", f"{whole},{fraction}"

    def thousands(self):
        value = self.rng.randrange(1000, 10_000_000)
        return f"{value:,}", f"{value:,}".replace(",", ".")

    def variable(self):
        return self.same(self.rng.choice(VARIABLES))

    def program(self):
        return self.same(self.rng.choice(PROGRAMS))

    def year(self):
        return self.same(str(self.rng.randrange(1985, 2025)))


def noun_slots(rng, suffix=""):
    """The noun, its plural, articles and adjective forms, as `key{suffix}` slots."""
    english, english_plural, german, german_plural, gender = rng.choice(NOUNS)
    adjective, german_adjective = rng.choice(ADJECTIVES)
    nominative, accusative, dative, indefinite_accusative = ARTICLES[gender]
    stem = german_adjective.rstrip("-")
    compound = german_adjective.endswith("-")  # "Standard-" joins the noun: Standarddatei
    no_valid = (
        ("kein" if gender != "f" else "keine") + f" {stem}{german.lower()}"
        if compound
        else NO_ADJECTIVE[gender].format(stem) + " " + german
    )
    article = "an" if english[0] in "aeiou" else "a"
    return {
        f"noun{suffix}": (english, german),
        f"nouns{suffix}": (english_plural, german_plural),
        f"the_nom{suffix}": ("the", nominative),
        f"The_nom{suffix}": ("The", nominative.capitalize()),
        f"the_acc{suffix}": ("the", accusative),
        f"the_dat{suffix}": ("the", dative),
        f"a_acc{suffix}": (article, indefinite_accusative),
        f"no_adj_noun{suffix}": (f"{article} {adjective} {english}", no_valid),
    }


def verb_slots(rng):
    english, participle, gerund, german, german_participle, verbal_noun = rng.choice(VERBS)
    return {
        "verb": (english, german),
        "verbed": (participle, german_participle),
        "verbing": (gerund, verbal_noun),
    }


# === Templates: (English, German), slots in braces ===

TEMPLATES = [
    (
        "cannot {verb} {the_acc} {noun} '{fmt}'",
        "{The_nom} {noun} »{fmt}« kann nicht {verbed} werden",
    ),
    ("error while {verbing} {fmt}: {fmt2}", "Fehler beim {verbing} von {fmt}: {fmt2}"),
    ("{number} {nouns} {verbed}", "{number} {nouns} {verbed}"),
    ("{fmt} {nouns} {verbed}.", "{fmt} {nouns} {verbed}."),
    ("{noun} {fmt} not found", "{noun} {fmt} nicht gefunden"),
    ("{fmt} is not {no_adj_noun}", "{fmt} ist {no_adj_noun}"),
    (
        "The {noun} {fmt} was {verbed} successfully.",
        "{The_nom} {noun} {fmt} wurde erfolgreich {verbed}.",
    ),
    ("could not write to {path}: {fmt}", "In {path} konnte nicht geschrieben werden: {fmt}"),
    ("The {noun} {path} already exists.", "{The_nom} {noun} {path} existiert bereits."),
    ("permission denied: {path}", "Zugriff verweigert: {path}"),
    (
        "cannot {verb} {path}: No such file or directory",
        "{path} kann nicht {verbed} werden: Datei oder Verzeichnis nicht gefunden",
    ),
    (
        "Usage: {program} [{option}]... {metavariable}...",
        "Aufruf: {program} [{option}]... {metavariable}...",
    ),
    (
        "Try '{program} {option}' for more information.",
        "»{program} {option}« liefert weitere Informationen.",
    ),
    ("{option}, {option2}: {verb} all {nouns}", "{option}, {option2}: alle {nouns} {verb}"),
    ("{option}: do not {verb} {the_acc} {noun}", "{option}: {the_acc} {noun} nicht {verb}"),
    ("option '{option}' requires an argument", "Option »{option}« erfordert ein Argument"),
    ("unrecognized option '{option}'", "nicht erkannte Option »{option}«"),
    (
        "the options {option} and {option2} cannot be used together",
        "die Optionen {option} und {option2} schließen sich gegenseitig aus",
    ),
    ("Copyright (C) {year} {name}", "Copyright (C) {year} {name}"),
    ("Copyright (C) {year}-{year2} {name}.", "Copyright (C) {year}-{year2} {name}."),
    ("Written by {name} and {name2}.", "Geschrieben von {name} und {name2}."),
    ("Report bugs to {email}.", "Melden Sie Fehler an {email}."),
    ("Report translation errors to <{email}>.", "Melden Sie Übersetzungsfehler an <{email}>."),
    ("See {url} for more information.", "Weitere Informationen finden Sie unter {url}."),
    (
        "Downloading {number} of {number2} {nouns} from {url}",
        "Lade {number} von {number2} {nouns} von {url} herunter",
    ),
    (
        "{number} of {number2} {nouns} {verbed} ({number3}%)",
        "{number} von {number2} {nouns} {verbed} ({number3} %)",
    ),
    (
        "Waiting {number} seconds for {the_acc} {noun}...",
        "Warte {number} Sekunden auf {the_acc} {noun} ...",
    ),
    ("{program} version {version}", "{program} Version {version}"),
    (
        "This {noun} requires {program} {version} or later.",
        "{The_nom} {noun} erfordert {program} {version} oder neuer.",
    ),
    ("Size: {decimal} MB", "Größe: {decimal} MB"),
    ("{thousands} bytes {verbed}", "{thousands} Bytes {verbed}"),
    ("Do you want to {verb} {number} {nouns}?", "Möchten Sie {number} {nouns} {verb}?"),
    (
        "Are you sure you want to {verb} {the_acc} {noun} {fmt}?",
        "Möchten Sie {the_acc} {noun} {fmt} wirklich {verb}?",
    ),
    (
        "Set {variable} to {path} and run {option} again.",
        "Setzen Sie {variable} auf {path} und führen Sie {option} erneut aus.",
    ),
    ("${variable} is not set", "${variable} ist nicht gesetzt"),
    (
        "Last modified on {year}-{month}-{day} by {name}",
        "Zuletzt geändert am {day}.{month}.{year} von {name}",
    ),
    (
        "Connecting to {host} port {number}...",
        "Verbindung zu {host} Port {number} wird hergestellt ...",
    ),
    (
        "{fmt}: {the_nom} {noun} is locked by {fmt2}",
        "{fmt}: {the_nom} {noun} ist durch {fmt2} gesperrt",
    ),
    ("failed to {verb} {noun} {fmt2}: {fmt}", "{noun} {fmt2} konnte nicht {verbed} werden: {fmt}"),
    (
        "{number} {nouns} and {number2} {nouns2} will be {verbed}.",
        "{number} {nouns} und {number2} {nouns2} werden {verbed}.",
    ),
    (
        "Use {option} to {verb} {the_acc} {noun} in {path}.",
        "Verwenden Sie {option}, um {the_acc} {noun} in {path} zu {verb}.",
    ),
    (
        "Press {number} to {verb} {the_acc} {noun}",
        "Drücken Sie {number}, um {the_acc} {noun} zu {verb}",
    ),
    ("unknown {noun} {fmt}", "{noun} {fmt} ist unbekannt"),
    ("The {noun} could not be {verbed}.", "{The_nom} {noun} konnte nicht {verbed} werden."),
    ("Please enter {a_acc} {noun}.", "Bitte geben Sie {a_acc} {noun} ein."),
]


def message(rng):
    """One `(English, German)` message from a random template."""
    english, german = rng.choice(TEMPLATES)
    slots = Slots(rng)
    values = {**noun_slots(rng), **noun_slots(rng, "2"), **verb_slots(rng)}
    draws = {
        "fmt": slots.fmt,
        "number": slots.number,
        "option": slots.option,
        "url": slots.url,
        "email": slots.email,
        "path": slots.path,
        "name": slots.name,
        "version": slots.version,
        "decimal": slots.decimal,
        "thousands": slots.thousands,
        "variable": slots.variable,
        "program": slots.program,
        "year": slots.year,
    }
    for kind, draw in draws.items():
        for suffix in ("", "2", "3"):
            values[kind + suffix] = draw()
    values["metavariable"] = slots.same(rng.choice(METAVARIABLES))
    values["host"] = slots.same(rng.choice(HOSTS))
    values["month"] = slots.same(f"{rng.randrange(1, 13):02d}")
    values["day"] = slots.same(f"{rng.randrange(1, 29):02d}")
    english = english.format(**{key: value[0] for key, value in values.items()})
    german = german.format(**{key: value[1] for key, value in values.items()})
    return english, german


def pairs(count, seed=0, long_fraction=0.25):
    """`count` distinct `(English, German)` pairs; `long_fraction` join 2-3 messages."""
    rng = random.Random(seed)
    seen, result = set(), []
    while len(result) < count:
        parts = [message(rng)]
        if rng.random() < long_fraction:
            parts += [message(rng) for _ in range(rng.choice([1, 1, 2]))]
        if len(parts) == 1:
            english, german = parts[0]
        else:
            english = " ".join(_sentence(english) for english, _ in parts)
            german = " ".join(_sentence(german) for _, german in parts)
        if english not in seen:
            seen.add(english)
            result.append((english, german))
    return result


def _sentence(text):
    """A message as a sentence of a longer one: capitalized, ending in punctuation."""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!:" else text + "."


def write_tsv(path, count, seed=0):
    """Writes `count` pairs as `source<TAB>target` lines; returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        for english, german in pairs(count, seed):
            file.write(f"{english}\t{german}\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the TSV file to write")
    parser.add_argument("--pairs", type=int, default=6000, help="distinct pairs (default 6000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error(f"--pairs expected a positive integer. Received: {args.pairs}")
    path = write_tsv(args.out, args.pairs, args.seed)
    print(f"wrote {args.pairs} pairs to {path}")


if __name__ == "__main__":
    main()
