"""Budgets for the experiments: `ci`, `quick`, `verify`, `book`, `grid` and `paper`.

A profile fixes how much is trained (examples, epochs, seeds) and which
grid rows each section runs; it never changes the method.  Every table and
figure states the profile and budget it was made with.
"""

import dataclasses

from spikelib.config import HIDDEN_SIZES, LATENCIES, NOISE_LEVELS, Budget, paper_config


@dataclasses.dataclass(frozen=True)
class Profile:
    """How much each experiment trains, and on which rows."""

    name: str
    description: str
    train_examples: int | None
    validation_examples: int | None
    test_examples: int | None
    epochs: int
    seeds: tuple[int, ...]
    datasets: tuple[str, ...] = ("mnist", "fashion_mnist")
    latencies: tuple[int, ...] = LATENCIES
    noise_levels: tuple[float, ...] = NOISE_LEVELS
    hidden_sizes: tuple[int, ...] = HIDDEN_SIZES
    extra_hidden_sizes: tuple[int, ...] = (64,)
    # Early stopping: at most `epochs`, stopped after `patience` epochs
    # without a relative improvement of `min_delta` (None: never early).
    patience: int | None = None
    min_delta: float = 0.0
    # Epochs still on the mean-image plateau (validation error at least this
    # share of the mean image's) do not count towards the patience.
    plateau: float | None = None
    # How "without improvement" is judged (`spikelib.stopping`): each epoch
    # against the best so far, or the last `patience` epochs together.
    stop_rule: str = "each_epoch"
    # Data sets of the sections that sweep a row parameter (latencies, noise,
    # inhibition); None: `datasets`.
    sweep_datasets: tuple[str, ...] | None = None
    # Latencies of the inhibition ablation (non-negative weights); None: `latencies`.
    ablation_latencies: tuple[int, ...] | None = None
    # The ablation's epoch cap (None: `epochs`): long enough to tell a run that
    # cannot leave the mean-image plateau from one that has not left it yet.
    ablation_epochs: int | None = None
    # The conventional autoencoder's stopping budget (None: the spiking runs').
    baseline_budget: Budget | None = None
    # Seeds of the fidelity section's runs (the reference's budget); None: `seeds`.
    fidelity_seeds: tuple[int, ...] | None = None
    # The claims this budget is meant to show: only these get a verdict.
    shows_claims: tuple[str, ...] = ()
    # The sections this profile trains and checks (None: every section).
    sections: tuple[str, ...] | None = None
    # Whether the grid section trains every tuned row (noise x latency x size)
    # on every data set; the other sections' levels are the fields above.
    full_grid: bool = False
    # The features the classification section fits a classifier on (None: every
    # one of `sections.classification.FEATURES`).
    classification_features: tuple[str, ...] | None = None

    def config(self, dataset, noise=0.0, latency=1, n_hidden=32, seed=None, **overrides):
        """RunConfig of a tuned grid row under this profile's budget.

        Embedding sizes outside the grid (the 64 extension) reuse the
        hyperparameters of the largest tuned size.
        """
        row_hidden = n_hidden if n_hidden in HIDDEN_SIZES else max(HIDDEN_SIZES)
        budget = dict(dataset=dataset, epochs=self.epochs, patience=self.patience,
                      min_delta=self.min_delta, plateau=self.plateau, rule=self.stop_rule,
                      seed=self.seeds[0] if seed is None else seed,
                      train_examples=self.train_examples,
                      validation_examples=self.validation_examples,
                      test_examples=self.test_examples)
        config = paper_config(float(noise), latency, row_hidden, **{**budget, **overrides})
        return config if n_hidden == row_hidden else config.replace(n_hidden=n_hidden)

    def conventional(self, config):
        """The conventional autoencoder's config matched to the spiking run `config`."""
        if self.baseline_budget is None:
            return config
        return config.replace(**dataclasses.asdict(self.baseline_budget))

    def ablation(self, config):
        """The inhibition ablation of the spiking run `config`: ordinary weights >= 0."""
        return config.replace(nonnegative_weights=True,
                              epochs=self.ablation_epochs or config.budget.epochs)

    def budget(self):
        """The budget as a flat dict, for results tables."""
        return dict(profile=self.name, epochs=self.epochs,
                    train_examples=self.train_examples or 54000,
                    validation_examples=self.validation_examples or 6000,
                    test_examples=self.test_examples or 10000)

    def caption(self):
        """One sentence stating the budget, for figure captions."""
        b = self.budget()
        seeds = f"{len(self.seeds)} seed{'s' if len(self.seeds) > 1 else ''}"
        epochs = f"{b['epochs']} epoch{'s' if b['epochs'] > 1 else ''}"
        if self.patience is not None:
            plateau = (", epochs still on the mean-image plateau not counted"
                       if self.plateau is not None else "")
            epochs = f"at most {epochs} ({self.stopping()}{plateau})"
        return (f"Budget (profile '{self.name}'): {b['train_examples']:,} training examples "
                f"x {epochs}, {b['test_examples']:,} test examples, {seeds}.")

    def stopping(self):
        """The stopping rule in words, e.g. "stopped after 3 epochs without a 1 % gain"."""
        if self.stop_rule == "window":
            return (f"stopped once {self.patience} epochs together gained less than "
                    f"{self.min_delta:.0%} on the best before them")
        return f"stopped after {self.patience} epochs without a {self.min_delta:.0%} gain"

    def datasets_for(self, section):
        """The data sets `section` trains on under this profile."""
        if section in SWEEP_SECTIONS and self.sweep_datasets is not None:
            return self.sweep_datasets
        return self.datasets

    def ablated_latencies(self):
        """The latencies at which the inhibition section trains its ablation."""
        return self.latencies if self.ablation_latencies is None else self.ablation_latencies

    def shows(self, claim):
        """Whether this budget is meant to show `claim` (e.g. 'C2'): only then a verdict."""
        return claim in self.shows_claims

    def covers(self, section):
        """Whether this profile trains and checks `section` (e.g. 'latencies')."""
        return self.sections is None or section in self.sections


SWEEP_SECTIONS = ("latencies", "noise", "inhibition")
ALL_CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C6", "C7")

PROFILES = {
    "ci": Profile(
        name="ci", description="a smoke run of every section for CI, minutes on 2 cores",
        train_examples=2000, validation_examples=500, test_examples=1000, epochs=1,
        seeds=(0, 1), datasets=("mnist", "fashion_mnist"), sweep_datasets=("mnist",),
        latencies=(1, 4, 16), noise_levels=(0.0, 0.4, 0.8), hidden_sizes=(8, 32),
        extra_hidden_sizes=(), ablation_latencies=(1, 16)),
    "quick": Profile(
        name="quick", description="a first look: every figure after one epoch per row "
        "(too short for any claim's verdict)",
        train_examples=None, validation_examples=2000, test_examples=5000, epochs=1,
        seeds=(0, 1, 2)),
    # CI's real check: the claims that the README row shows after 2 epochs
    # (the reference reaches 0.0140 there, below PCA-32's 0.0151).  C6's verdict
    # rests on the spiking code alone; the raw-pixel classifier beside it (784
    # features, half of the check's 5.5 min) is left to the book.  C2 and C5
    # also rest on the 16-hidden row, which sits on the mean-image plateau
    # until epoch 4-5 (measured: MNIST 0.063 after 2 epochs, 0.042 after 5,
    # 0.025 after 8): too long for CI, so they are left to the book's budgets.
    "verify": Profile(
        name="verify", description="the claims a short budget shows (C1, C6), checked by CI: "
        "the README row (latency 1, 32 hidden) on the full training split, 2 epochs, 2 seeds",
        train_examples=None, validation_examples=2000, test_examples=5000, epochs=2,
        seeds=(0, 1), latencies=(1,), noise_levels=(0.0,), hidden_sizes=(32,),
        extra_hidden_sizes=(), shows_claims=("C1", "C6"),
        sections=("datasets", "classification"),
        classification_features=("sae_embedding", "ann_embedding")),
    # The default of `make book`, designed from measured learning curves
    # (MNIST, seed 0, full split): latency-1 rows flatten by epoch 8-12; the
    # (0, 16, 32) and (0.8, 1, 32) rows sit on the mean-image plateau until
    # epoch 6-10 and are still falling at 15; the ablation at latency 16 never
    # leaves it in 15.  The stopping rule is the grid's: 3 epochs without a
    # 1 % gain, epochs on the plateau not counted.  Replayed on the recorded
    # curves (`benchmarks/stopping_rules.py`), the earlier 2 epochs / 2 %
    # stopped 7 of the 13 curves recorded past its stop more than 2 % (up
    # to 6.8 %) above the best they reached later, and stopped Fashion-MNIST
    # (0, 1, 32) at epoch 5 in one build and 11 in another: stopping time
    # read as seed spread.  So: at
    # most 20 epochs under that rule; the ablation up to 30 epochs (3x what
    # the full model needs to leave the plateau), and the conventional
    # autoencoder, ~20x faster per epoch, up to 100 epochs, stopped only
    # after 5 epochs without a 0.5 % gain: a baseline trained until flat,
    # not until the spiking runs' budget runs out.  To fit 2 hours on 2
    # cores the sweeps over latency and noise (C3, C4, C7) run on MNIST at
    # three levels each, the ablation at the lowest and highest latency, and
    # the fidelity section (the reference's 10 and 20 epochs) with one seed.
    "book": Profile(
        name="book", description="every claim, each row trained until its learning curve "
        "flattens (at most 20 epochs), 2 seeds; latency and noise sweeps on MNIST",
        train_examples=None, validation_examples=2000, test_examples=5000, epochs=20,
        seeds=(0, 1), sweep_datasets=("mnist",), latencies=(1, 4, 16),
        noise_levels=(0.0, 0.4, 0.8), hidden_sizes=(8, 16, 32), extra_hidden_sizes=(),
        ablation_latencies=(1, 16), fidelity_seeds=(0,), patience=3, min_delta=0.01,
        plateau=0.9, shows_claims=ALL_CLAIMS, ablation_epochs=30,
        baseline_budget=Budget(epochs=100, patience=5, min_delta=0.005)),
    # The paper's whole grid: every tuned row on both data sets, the full
    # split, one seed, each run until its curve has flattened: stopped once
    # its last 3 epochs together gained less than 1 % on the best before them
    # (the window rule, the book's own criterion of "still learning"), epochs
    # on the mean-image plateau not counted, at most the article's 100
    # epochs.  The book's per-epoch rule stopped 11 of the first 21 grid runs
    # while they were still falling by 0.3-0.9 % per epoch.  The conventional
    # autoencoder of each size and the ablation at every latency beside it.
    # The sweeps (C3, C4, C5, C7) draw every level on both data sets from
    # it.  Hours of training: a campaign, resumable, in pieces.
    "grid": Profile(
        name="grid", description="the paper's whole grid: every tuned row on both data sets, "
        "full split, each row until its curve flattens (at most 100 epochs), 1 seed",
        train_examples=None, validation_examples=None, test_examples=None, epochs=100,
        seeds=(0,), extra_hidden_sizes=(), patience=3, min_delta=0.01, plateau=0.9,
        stop_rule="window", ablation_epochs=100,
        baseline_budget=Budget(epochs=100, patience=5, min_delta=0.005),
        shows_claims=("C3", "C4", "C5", "C7"), full_grid=True,
        sections=("grid", "latencies", "noise", "embedding_sizes", "inhibition")),
    "paper": Profile(
        name="paper", description="the article's budget: full split, 100 epochs, every row",
        train_examples=None, validation_examples=None, test_examples=None, epochs=100,
        seeds=(0, 1, 2, 3, 4), shows_claims=ALL_CLAIMS),
}


def differences_from_paper(profile):
    """[(aspect, the paper, this profile)]: where `profile`'s runs differ from the article's.

    The paper's column holds what its text and its reference implementation
    state (the tuned grid, 100 epochs, the split); "–" where neither does.
    """
    from spikelib.sections.report import coverage, list_words
    paper = PROFILES["paper"]
    b = profile.budget()
    seeds = f"{len(profile.seeds)} per row"
    epochs = f"at most {profile.epochs}" + (f", {profile.stopping()}" if profile.patience else "")
    split = (f"{b['train_examples']:,} / {b['validation_examples']:,} / "
             f"{b['test_examples']:,}")
    return [
        ("data sets", "MNIST and Fashion-MNIST", coverage(profile, "datasets")),
        ("latency sweep", f"latencies {list_words(LATENCIES)}",
         coverage(profile, "latencies")),
        ("noise sweep", f"noise levels {list_words(NOISE_LEVELS)}", coverage(profile, "noise")),
        ("embedding sizes", list_words(HIDDEN_SIZES),
         list_words(profile.hidden_sizes + profile.extra_hidden_sizes)),
        ("inhibition ablation (weights >= 0)", "–", "latencies " + list_words(
            profile.ablated_latencies()) + " on " + coverage(profile, "inhibition")
         + (f", up to {profile.ablation_epochs} epochs" if profile.ablation_epochs else "")),
        ("epochs", f"{paper.epochs}", epochs),
        ("train / validation / test examples", "54,000 / 6,000 / 10,000", split),
        ("seeds", "–", seeds),
        ("conventional autoencoder", "not described",
         "one dense hidden layer of the same size, choices from a validation search"),
        ("published error tables", "not available here: no paper number is compared",
         "every number computed from this build's runs"),
    ]


def get_profile(name):
    """The named profile; a clear error listing the valid names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
