"""The split policy: how the data loaders carve a missing dev or test split out of train.

`load_text_splits`, `load_parallel_splits` and `load_speech_splits` all
carve with `carve`, which works on item indices and decides how, in this
order:

1. Grouped items (speech: utterances grouped by speaker). Whole groups are
   carved - no speaker in two splits, so dev and test score unseen voices -
   when whole groups can give every split close to its size. The groups are
   shuffled with `numpy.random.default_rng(seed)`; each carved split (test
   first, then dev) walks them in that order while it holds fewer items than
   asked, and takes a group when the group keeps it within
   `GROUP_SIZE_TOLERANCE` (1.5) times its size and either brings it closer
   to its size or is needed to reach 1 / 1.5 = 2/3 of it. The draw is kept
   when every carved split holds between 2/3 and 1.5 times its size, and
   train keeps at least `MIN_TRAIN_GROUPS` (2) groups and at least 2/3 of
   the items the fractions leave it.
2. Otherwise - few groups, or groups large against the fraction - every
   carved split is carved by item within the groups: a split stratified by
   group, each group giving about its share of its own items, so dev and
   test hold train's speakers.
3. Items with strata but no groups (labelled text: their labels): a split
   stratified by stratum.
4. Neither (translation pairs; speech without speaker folders or with
   `group_by_speaker=False`): a seeded split by item.

A stratified split is scikit-learn's `train_test_split` with `stratify`
(test first, then dev from the rest). Where it cannot be made - a stratum
with one item, or fewer items carved than strata - the split is a seeded
split by item, and the reason says so; carved items whose stratum would
then be missing from train go back to train (noted). A non-zero fraction
carves at least one item; the same arguments give the same splits.

The `Carving` returned says what was done, for the loaders' records: the
`policy` of dev and of test, its `reason`, and `notes` whose first line says
both, e.g. "dev carved by utterance within the 3 speakers: one whole speaker
would be at least 200 of the 750 utterances (27%) for dev_fraction=0.1 (75
utterances)".

Why 1.5 and 2/3: a fraction is a request, and whole groups can only meet it
roughly; the band says how roughly. Within it, with the default fractions of
0.1, dev and test each hold 6.7% to 15% of the items and train at least 70%
(80% asked): a speaker-disjoint evaluation is worth that. Beyond it the
fraction stops meaning what it says - a corpus of 3 speakers gave a
`dev_fraction` of 0.1 one whole speaker, 40% of train, which then stopped
early on one unseen voice. The band is symmetric in ratio (at most 1.5 times
off either way), so a dev too small to measure is refused as a dev too
large. Two groups in train: with one, the model learns one voice, and dev
scores how that voice carries over, not the model.
"""

import dataclasses
import math

import numpy as np

from toolkit.data.files import data_error

GROUP_SIZE_TOLERANCE = 1.5
MIN_TRAIN_GROUPS = 2
_CARVED = ("dev", "test")  # the record's order


@dataclasses.dataclass(frozen=True)
class Carving:
    """What `carve` did: the indices of train and of each carved split, and why.

    Attributes:
        parts: Dict split name -> sorted list of the indices carved for it,
            in carving order (`test`, then `dev`).
        train: Sorted list of the indices left for train.
        policy: Dict `{"dev", "test"}` -> how the split was made: `"given"`
            (not carved), `"empty"` (a zero fraction), `"by <group>"` (whole
            groups), `"by <item> within <group>s"`, `"stratified by
            <stratum>"` or `"by <item>"`.
        reason: String, why that policy.
        notes: List of one-line strings for the record's notes: what was
            carved and why, and the items kept in train for their stratum.
        stratified: `True` when the items were drawn stratified, `False`
            when not, `None` when nothing was drawn.
        unit: What was drawn: the `group` name for whole groups, else the
            `item` name; `None` when nothing was drawn.

    Example:

    >>> carving = Carving({"dev": [2]}, [0, 1], {"dev": "by pair", "test": "given"}, "")
    >>> carving.record()
    {'dev': 'by pair', 'test': 'given', 'reason': ''}
    >>> carving.splits(lambda indices, carved: (indices, carved))
    {'train': ([0, 1], False), 'dev': ([2], True)}
    """

    parts: dict
    train: list
    policy: dict
    reason: str
    notes: list = dataclasses.field(default_factory=list)
    stratified: bool | None = None
    unit: str | None = None

    def record(self):
        """The record's `split_policy`: the policy of dev and of test, and the reason."""
        return {**self.policy, "reason": self.reason}

    def splits(self, select, given=None):
        """`{"train": select(train, False), "dev": ..., "test": ...}`, in that order.

        `select(indices, carved)` builds one split from its indices; `carved`
        tells a carved split from train (which keeps its source's name and
        skipped entries). The splits not carved are taken from `given` (a
        dict split name -> split), where it holds them.
        """
        splits = {"train": select(self.train, False)}
        splits.update((name, select(indices, True)) for name, indices in self.parts.items())
        splits.update(given or {})
        return {name: splits[name] for name in ("train", *_CARVED) if name in splits}


def carve(
    total, fractions, seed, *, source, item, groups=None, group=None, strata=None, stratum=None
):
    """Carves `fractions` of `total` items into splits, by the module's policy.

    Args:
        total: Non-negative integer, the number of items (indices `0` to
            `total - 1`).
        fractions: Dict split name -> fraction in [0, 1), in carving order
            (test, then dev); the splits not named are given, not carved.
        seed: Non-negative integer, the seed of every draw.
        source: String, what the items come from (named in errors).
        item: String, what one item is, for messages (`"utterance"`).
        groups: `None` (default: items are not grouped), or one group key per
            item (`None` for an item in no group, which is a group of its own
            for whole-group carving and one stratum for carving within groups).
        group: String, what one group is (`"speaker"`); needed with `groups`.
        strata: `None` (default), or one stratum key per item (sortable, not
            `None`) to stratify on; not with `groups`.
        stratum: String, what one stratum is (`"label"`); needed with `strata`.

    Returns:
        A `Carving`.

    Raises:
        DataError: when the fractions leave train no item (naming `source`,
            the number of items, and of groups if any).

    Example:

    >>> speakers = ["ann"] * 12 + ["bob"] * 10 + ["cy"] * 8
    >>> carving = carve(30, {"dev": 0.1}, 0, source="corpus", item="utterance",
    ...                 groups=speakers, group="speaker")
    >>> carving.policy, [speakers[i] for i in carving.parts["dev"]]
    ({'dev': 'by utterance within speakers', 'test': 'given'}, ['ann', 'bob', 'cy'])
    >>> print(carving.notes[0])  # doctest: +NORMALIZE_WHITESPACE
    dev carved by utterance within the 3 speakers: one whole speaker would be at least 8
    of the 30 utterances (27%) for dev_fraction=0.1 (3 utterances)
    """
    if groups is not None and strata is not None:
        raise ValueError(
            "Arguments `groups` and `strata` expected at most one of them. Received: both"
        )
    request = _Request(total, dict(fractions), _part_sizes(fractions, total), seed, item)
    grouped = groups is not None and any(key is not None for key in groups)
    group_lists = _group_lists(groups) if grouped else None
    if total - sum(request.sizes.values()) < 1:
        grouping = f" in {_counted(len(group_lists), 'group')} ({group}s)" if grouped else ""
        raise data_error(
            source,
            None,
            f"holds {total} {item}s{grouping}, too few to carve {_fraction_arguments(fractions)} "
            f"out of it and keep {item}s for train",
        )
    if not any(request.sizes.values()):
        reason = "every split is given"
        if fractions:
            reason = f"nothing to carve: {_fraction_arguments(fractions)}"
        return Carving(
            {name: [] for name in fractions}, list(range(total)), request.policy(None), reason
        )
    if grouped:
        drawn = _draw_whole_groups(group_lists, request.sizes, seed)
        refusal = _whole_group_refusal(drawn, group_lists, request, group)
        if refusal is None:
            parts = {
                name: sorted(i for position in positions for i in group_lists[position])
                for name, positions in drawn.items()
            }
            summary = _whole_group_summary(drawn, group_lists, request.sizes, item, group)
            return request.carving(parts, f"by {group}", summary, unit=group)
        return request.stratified(
            groups,
            group,
            f"by {item} within {group}s",
            refusal,
            described=f"by {item} within the {_counted(len(set(groups) - {None}), group)}",
            refusal=refusal,
        )
    if strata is not None:
        return request.stratified(
            strata, stratum, f"stratified by {stratum}", f"each {stratum} gives its share"
        )
    if groups is None:
        reason = f"{item}s are not grouped" + (f" by {group}" if group else "")
    else:
        reason = f"no {item} has a {group}"
    return request.carving(request.by_item(), f"by {item}", reason)


def _part_sizes(fractions, total):
    """`{split: size}` of `fractions` of `total` items, rounded half up (at least 1 if non-zero)."""
    return {
        name: 0 if fraction == 0.0 else max(1, int(math.floor(fraction * total + 0.5)))
        for name, fraction in fractions.items()
    }


def _fraction_arguments(fractions):
    """`"test_fraction=0.1, dev_fraction=0.1"`: the arguments behind `fractions`, for messages."""
    return ", ".join(f"{name}_fraction={fraction!r}" for name, fraction in fractions.items())


# === Policy ===


@dataclasses.dataclass(frozen=True)
class _Request:
    """What `carve` was asked: `total` items, `fractions` and their `sizes`, the `seed`."""

    total: int
    fractions: dict
    sizes: dict
    seed: int
    item: str

    def policy(self, named):
        """`{"dev", "test"}` -> "given", "empty", or `named` for a carved split."""
        return {
            name: "given"
            if name not in self.fractions
            else (named if self.sizes[name] else "empty")
            for name in _CARVED
        }

    def carving(
        self, parts, named, reason, *, described=None, notes=(), stratified=False, unit=None
    ):
        """The `Carving` of `parts`, made `named` (`described` so in the note) for `reason`,
        drawn by `unit` (default: by item)."""
        taken = {i for indices in parts.values() for i in indices}
        carved = " and ".join(name for name in _CARVED if self.sizes.get(name))
        return Carving(
            parts,
            [i for i in range(self.total) if i not in taken],
            self.policy(named),
            reason,
            [f"{carved} carved {described or named}: {reason}", *notes],
            stratified,
            unit or self.item,
        )

    def by_item(self):
        """`{split: sorted indices}` of single items drawn in a seeded order (exact sizes)."""
        singles = [[index] for index in range(self.total)]
        drawn = _draw_whole_groups(singles, self.sizes, self.seed)
        return {name: sorted(positions) for name, positions in drawn.items()}

    def stratified(self, strata, stratum, named, reason, *, described=None, refusal=None):
        """The `Carving` stratified by `strata`, or by item when scikit-learn cannot
        stratify them (said in the reason, after a whole-group `refusal` if any)."""
        try:
            parts = _stratified_parts(_stratum_codes(strata), self.sizes, self.seed)
            stratified = True
        except ValueError as error:  # scikit-learn: a stratum too small to stratify
            parts, stratified = self.by_item(), False
            named, described = f"by {self.item}", None
            reason = f"not stratified by {stratum} ({error})"
            if refusal is not None:
                reason = f"{refusal}; {reason}"
        notes = _keep_strata_in_train(strata, parts, stratum, self.item)
        return self.carving(
            parts, named, reason, described=described, notes=notes, stratified=stratified
        )


def _group_lists(groups):
    """The item indices of each group: named groups in key order, then each ungrouped item."""
    named, alone = {}, []
    for index, key in enumerate(groups):
        if key is None:
            alone.append([index])
        else:
            named.setdefault(key, []).append(index)
    return [named[key] for key in sorted(named)] + alone


def _draw_whole_groups(groups, sizes, seed):
    """`{split: [group positions]}`: whole `groups` drawn in a seeded order (module docstring)."""
    order = [int(position) for position in np.random.default_rng(seed).permutation(len(groups))]
    drawn = {}
    for name, size in sizes.items():
        taken, count = [], 0
        for position in order:
            if count >= size:
                break
            length = len(groups[position])
            fits = count + length <= size * GROUP_SIZE_TOLERANCE
            closer = 2 * count + length <= 2 * size  # |count + length - size| <= |count - size|
            needed = count * GROUP_SIZE_TOLERANCE < size
            if fits and (closer or needed):
                taken.append(position)
                count += length
        drawn[name] = taken
        taken = set(taken)
        order = [position for position in order if position not in taken]
    return drawn


def _whole_group_refusal(drawn, groups, request, group):
    """Why the whole groups `drawn` do not make the splits, or `None` when they do."""
    item, total, used = request.item, request.total, set()
    for name, positions in drawn.items():
        size = request.sizes[name]
        count = sum(len(groups[position]) for position in positions)
        used.update(positions)
        if not size or count * GROUP_SIZE_TOLERANCE >= size:
            continue
        asked = f"{name}_fraction={request.fractions[name]!r} ({_counted(size, item)})"
        left = [len(groups[position]) for position in range(len(groups)) if position not in used]
        if not left:
            return f"whole {group}s give {name} {count} {item}s for {asked}: no {group} is left"
        if count == 0:
            return (
                f"one whole {group} would be at least {min(left)} of the {total} {item}s "
                f"({min(left) / total:.0%}) for {asked}"
            )
        return (
            f"whole {group}s give {name} only {count} {item}s for {asked}: one more would be "
            f"over {GROUP_SIZE_TOLERANCE} times that"
        )
    kept = len(groups) - len(used)
    if kept < MIN_TRAIN_GROUPS:
        return (
            f"whole {group}s would leave train {_counted(kept, group)} of {len(groups)} "
            f"(at least {MIN_TRAIN_GROUPS} wanted)"
        )
    train_count = total - sum(len(groups[position]) for position in used)
    train_size = total - sum(request.sizes.values())
    if train_count * GROUP_SIZE_TOLERANCE < train_size:
        return (
            f"whole {group}s would leave train {train_count} of the {total} {item}s "
            f"({train_count / total:.0%}) where the fractions leave it {train_size}"
        )
    return None


def _whole_group_summary(drawn, groups, sizes, item, group):
    """The reason of a whole-group carving: what each split got, and what train keeps."""
    parts = []
    for name in _CARVED:
        if sizes.get(name):
            count = sum(len(groups[position]) for position in drawn[name])
            whole = _counted(len(drawn[name]), f"whole {group}")
            parts.append(f"{name} {count} {item}s in {whole} for {sizes[name]} asked")
    kept = len(groups) - sum(len(positions) for positions in drawn.values())
    return f"{', '.join(parts)}; train keeps {kept} of the {len(groups)} {group}s"


def _counted(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


# === Draws ===


def _stratum_codes(strata):
    """Integer codes of `strata` in key order (`None`, one stratum of its own, first)."""
    keys = sorted(set(strata) - {None})
    code = {key: index for index, key in enumerate(keys)}
    return np.array([-1 if key is None else code[key] for key in strata])


def _stratified_parts(codes, sizes, seed):
    """`{split: sorted indices}` drawn by scikit-learn's stratified `train_test_split`.

    Raises scikit-learn's `ValueError` when a stratum is too small to stratify.
    """
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(codes))
    parts = {}
    for name, size in sizes.items():
        if size == 0:
            parts[name] = []
            continue
        rest, part = train_test_split(
            rest, test_size=size, random_state=seed, shuffle=True, stratify=codes[rest]
        )
        parts[name] = sorted(part.tolist())
    return parts


def _keep_strata_in_train(strata, parts, stratum, item):
    """Moves carved items whose stratum train would lack back into train (a label train
    never sees cannot be learned; a speaker only in dev breaks "within speakers"), and
    returns the notes that say so."""
    carved = {i for indices in parts.values() for i in indices}
    in_train = {strata[i] for i in range(len(strata)) if i not in carved}
    notes = []
    for name, indices in parts.items():
        moved = sorted({strata[i] for i in indices} - in_train - {None})
        if moved:
            parts[name] = [i for i in indices if strata[i] not in moved]
            notes.append(
                f"{stratum}s {moved} would have been missing from train: their {item}s were "
                f"kept in train instead of {name}"
            )
    return notes
