"""Publishing: Jinja2 LaTeX handouts (`templates/`), their build, Anki export.
"""

HANDOUTS = (
    ("derivations", "every derivation, one section each: claim, aligned chain with reasons and verdicts, "
                    "summary, example values"),
    ("beyond-the-lesson", "the variants gallery given with --gallery (IWAE, Gaussian VAE, two latent layers...), "
                          "in the derivation sheet's layout"),
    ("find-the-mistake", "teaching files (expect = \"refuted\"), if any: the chains to correct, then the "
                         "solutions with counterexamples"),
    ("from-the-literature", "the published identities given with --literature (derivations/literature/): "
                            "title, summary with its citation, every step with its rule; proved only"),
    ("worked-example", "the project's worked example(s), else the lesson's binary one: all quantities exact "
                       "and in nats/bits, and the figure of a binary one"),
    ("exercises", "seeded fresh exercises (seed printed; --K, --parts; --solutions inline: keys under the cases)"),
    ("answers", "the answer key of exercises.pdf (same seed, same case numbers)"),
    ("tight-drill", "q = posterior gives gap exactly 0; a near miss; answers on a fresh sheet at the end"),
    ("selfcheck", "the questions (the lesson: six); answers with their checked formulas on a fresh sheet"),
    ("flashcards", "2 x 4 cut-out cards per sheet, backs mirrored for duplex printing"),
)
"""Every handout `elbo-sym build` can write (name of its PDF, what it holds), in the order
`elbo-sym handouts` lists them; kept here, free of imports, so that `build --help` is instant."""

TOGETHER = (frozenset({"exercises", "answers"}),)
"""Handouts that `build --only` builds together: an answer key never outlives its sheet (after a new
seed, `--only exercises` alone would leave the old answers.pdf beside the new exercises.pdf)."""

ONLY_NAMES = tuple(f"{name}{pdf}" for name, _ in HANDOUTS for pdf in ("", ".pdf"))
"""What `build --only` takes: a handout's name, or its PDF as `elbo-sym handouts` lists it (rt36 M1)."""
