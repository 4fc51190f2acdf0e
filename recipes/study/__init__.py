"""The gated-RNN study: the claims everyone repeats about gated RNNs, checked with the toolkit.

Issue 9 asks for each claim to become an experiment with a plot, a table and a verdict
computed from the numbers measured in the run (`holds`, `partly holds`, `does not hold`,
`inconclusive`), reported honestly where a claim does not hold. One module per claim, in
claim order (`recipes.study.report.EXPERIMENTS`):

1. `vanishing`: simple RNNs suffer vanishing gradients - the norm of d loss / d x_t against
   the distance to the end, SimpleRNN vs LSTM vs GRU, untrained and trained.
2. `long_range`: LSTMs and GRUs capture long-range dependencies - the adding problem and
   copy memory at lengths from 50 to 1000, and sequential digits.
3. `cost`: GRUs are cheaper than LSTMs - parameters, training time per step and accuracy at
   equal units and at equal parameter count.
4. `attention`: attention helps translation of long sentences - BLEU by source length with
   and without attention (Bahdanau et al. 2014, figure 2).
5. `gates`: the gates learn interpretable behaviour - gate traces on the adding problem and
   on text.

Run everything (tens of minutes on a 2-core CPU) or a subset:

    python -m recipes.study
    python -m recipes.study --experiments vanishing,cost --seed 1 --out runs/study_seed1
    python -m recipes.study --quick          # tiny sizes, a smoke test (what the tests run)

The report goes to `runs/study/` (`--out`): `report.md` (machine and versions, the command,
a verdict table, then per claim the claim, verdict, summary, tables, figures and time),
`results.json` (every `Finding` as a dict) and the figures (PNG). It is written to a staging
folder and moved into place only when every experiment succeeded.

Each experiment module exposes `KEY` and `run(out_dir, quick=False, seed=0) -> Finding`
(`recipes.study.findings`); `recipes.study.tasks` holds the training tasks they share (the
adding problem, number agreement on the text-classification recipe's bundled data).
"""
