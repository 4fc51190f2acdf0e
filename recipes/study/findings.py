"""What one experiment of the study returns: `Finding`, rendered by `recipes.study.report`."""

import dataclasses

VERDICTS = ("holds", "partly holds", "does not hold", "inconclusive")


@dataclasses.dataclass
class Finding:
    """The outcome of one claim's experiment.

    Attributes:
        key: The experiment's name on the command line (`"vanishing"`, ...).
        title: A heading, e.g. `"1. Simple RNNs suffer vanishing gradients"`.
        claim: The claim as it is usually stated, with its source.
        verdict: One of `VERDICTS`, judged from the numbers measured in this run
            (never fixed in advance).
        summary: A paragraph: what was run (models, sizes, budget, seeds) and what
            the numbers say, including where the claim does not hold.
        tables: Markdown tables (strings), each with a header row.
        figures: Paths of the figures written, relative to the run's output folder.
        data: The measured numbers, JSON-serializable (lists, dicts, floats, strings).
        seconds: Wall-clock seconds the experiment took.
    """

    key: str
    title: str
    claim: str
    verdict: str
    summary: str
    tables: list = dataclasses.field(default_factory=list)
    figures: list = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"Argument `verdict` expected one of {list(VERDICTS)}. "
                f"Received: verdict={self.verdict!r}"
            )
