"""Handouts from the author's files: a project's elbo-sym.toml (elbo_sym.publish.project),
the sheets' --K, --seed, --count and --parts, and cases that differ from each other.

The custom project's PDFs are read back with pdftotext; the expected numbers are recomputed
here with math.log on Fractions, not taken from the code under test.
"""

from __future__ import annotations

import math
import os
import subprocess
from fractions import Fraction as F
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import PARTS as CLI_PARTS
from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError
from elbo_sym.lesson.examples import ExampleInputError
from elbo_sym.lesson.exercises import PARTS, generate_exercises, select_tasks, tight_drill
from elbo_sym.publish.project import PROJECT_FILE, Project, find_project, load_project

ROOT = Path(__file__).resolve().parent.parent

GAP3 = '''title = "The gap with three states"
summary = "For a three-state latent variable the gap is the KL divergence to the posterior."
K = 3
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) * p(x) / p(x, z)), z)"
rule = "linearity"
why = "q sums to one; unfold the ELBO and collect the logarithms"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "bayes"
why = "Bayes' rule turns the ratio into the posterior"

[[example]]
prior = ["1/2", "1/3", "1/6"]
likelihood = ["1/4", "1/2", "3/4"]
q = ["1/5", "2/5", "2/5"]
'''

DECK = '''title = "Our deck"
summary = "Two cards of our own."

[[card]]
topic = "bound"
front = "Zebra question: what bounds the log-evidence from below?"
back = "Walrus answer: the ELBO, for every q."
formula = "log(p(x)) >= ELBO(q)"

[[card]]
topic = "gap"
front = "Yak question: what is the gap?"
back = "Quokka answer: the KL divergence from q to the posterior."
formula = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
'''

CONFIG = '''# a course's handouts
derivations = ["derivs"]
selfcheck = "cards/selfcheck.toml"
flashcards = "cards/flashcards.toml"

[exercises]
seed = 11
count = 3
K = 3
parts = ["evidence", "posterior", "gap"]

[drill]
count = 2

[[example]]
prior = ["1/2", "1/4", "1/4"]
likelihood = ["1/5", "3/5", "1/2"]
q = ["1/3", "1/3", "1/3"]
'''

EXAMPLE = ((F(1, 2), F(1, 4), F(1, 4)), (F(1, 5), F(3, 5), F(1, 2)), (F(1, 3), F(1, 3), F(1, 3)))


def make_project(folder: Path, config: str = CONFIG) -> Path:
    (folder / "derivs").mkdir(parents=True, exist_ok=True)
    (folder / "cards").mkdir(exist_ok=True)
    (folder / "derivs" / "gap3.toml").write_text(GAP3)
    selfcheck = (ROOT / "elbo_sym" / "lesson" / "data" / "selfcheck.toml").read_text()
    assert "What \\\nis the marginal likelihood" in selfcheck
    (folder / "cards" / "selfcheck.toml").write_text(
        selfcheck.replace("What \\\nis the marginal likelihood", "What \\\nis the Narwhal marginal likelihood"))
    (folder / "cards" / "flashcards.toml").write_text(DECK)
    (folder / PROJECT_FILE).write_text(config)
    return folder / PROJECT_FILE


def pdf_text(pdf: Path, *args: str) -> str:
    out = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    return out.replace("\u2212", "-")


def squash(text: str) -> str:
    return "".join(text.split())


def quantities(prior, likelihood, q) -> dict[str, float]:
    joint = [a * b for a, b in zip(prior, likelihood)]
    evidence = sum(joint)
    posterior = [j / evidence for j in joint]
    elbo = sum(float(w) * math.log(j / w) for w, j in zip(q, joint))
    kl = sum(float(w) * math.log(w / p) for w, p in zip(q, posterior))
    return {"evidence": float(evidence), "log_evidence": math.log(evidence), "elbo": elbo, "kl": kl}


# --------------------------------------------------------------------------- the config file


def test_a_project_file_is_read_and_validated(tmp_path):
    path = make_project(tmp_path)
    project = load_project(path)
    s = project.settings
    assert (s.seed, s.count, s.K, s.parts, s.drill_count, s.drill_states, s.solutions) == \
        (11, 3, 3, ("evidence", "posterior", "gap"), 2, 3, "separate")
    assert project.derivation_paths() == [str(tmp_path / "derivs")]
    assert project.selfcheck == tmp_path / "cards" / "selfcheck.toml"
    assert [e.prior for e in project.examples] == [EXAMPLE[0]]
    # options on the command line win; K sets the drill's too
    over = project.with_options(seed=5, K=2, parts=("gap", "evidence"), solutions="none")
    assert (over.settings.seed, over.settings.K, over.settings.drill_states) == (5, 2, 2)
    assert over.settings.parts == ("evidence", "gap") and over.settings.solutions == "none"
    assert over.settings.count == 3  # not given: the project's


def test_no_project_file_means_the_lesson_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = find_project()
    assert project == Project() and project.file is None and not project.examples
    assert project.settings.seed == 2026 and project.settings.count == 6 and project.settings.solutions == "separate"
    make_project(tmp_path)
    assert find_project().file == Path(PROJECT_FILE)  # ./elbo-sym.toml when present
    assert find_project(str(tmp_path)).settings.seed == 11  # a folder holding one


@pytest.mark.parametrize("config, line, message", [
    ('colour = "red"\n', 1, "unknown key 'colour'"),
    ('[exercises]\nseed = 1\nsed = 2\n', 3, "[exercises] unknown key 'sed'"),
    ('[exercises]\ncount = 0\n', 2, "count = 0 is not in the range 1 to 100"),
    ('[exercises]\nK = "3"\n', 2, "K must be an integer"),
    ('[exercises]\nseed = true\n', 2, "seed must be an integer"),
    ('[exercises]\nparts = ["evidence", "elbow"]\n', 2, "unknown part 'elbow'"),
    ('[drill]\nK = 9\n', 2, "K = 9 is not in the range 2 to 6"),
    ('solutions = "all"\n', 1, "solutions must be one of none, separate, inline"),
    ('selfcheck = "missing.toml"\n', 1, "missing.toml does not exist"),
    ('derivations = []\n', 1, "derivations must be"),
    ('flashcards = "cards"\n', 1, "is a folder, not a file"),
    ('\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "3/4"]\n', 5,
     "example 1: q sums to 13/12, not 1"),
    ('[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\n', 1, "example 1 is missing 'q'"),
    ('[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/2", "1/2"]\nz = 1\n', 5,
     "unknown key 'z'"),
    ('[exercises\n', 1, "malformed TOML"),
    ('title = 7\n', 1, "title must be the course's name"),
    ('title = "  "\n', 1, "title must be the course's name"),
    ('title = "Week \\u202e5"\n', 1, "title"),
])
def test_a_bad_project_file_is_an_error_at_its_line(tmp_path, config, line, message):
    make_project(tmp_path, config)
    with pytest.raises(DerivationError) as caught:
        load_project(tmp_path / PROJECT_FILE)
    assert caught.value.line == line and message in caught.value.message, str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / PROJECT_FILE}:{line}:")


def test_the_project_file_is_read_safely(tmp_path):
    big = tmp_path / "big" / PROJECT_FILE
    big.parent.mkdir()
    big.write_text("# padding\n" * 10_000)
    with pytest.raises(DerivationError, match="larger than the limit"):
        load_project(big)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(DerivationError, match="not a regular file"):
        load_project(fifo)  # refused at once, never blocks


def test_cli_refuses_a_bad_project_in_one_line(tmp_path, capsys):
    make_project(tmp_path, 'colour = "red"\n')
    for args in (["exercises"], ["drill"], ["cards"], ["example"], ["build", "--out", str(tmp_path / "o")],
                 ["web", "--out", str(tmp_path / "w")]):
        assert main(args + ["--project", str(tmp_path)]) == 2, args
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert err[0].startswith("elbo-sym: error: ") and ":1:1: unknown key 'colour'" in err[0]
        assert err[1:] == ['    colour = "red"', "    ^"], err  # the line and the caret, as a derivation's (rt41)
    assert main(["exercises", "--project", str(tmp_path / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_an_example_too_large_for_exact_arithmetic_is_the_projects_error_for_every_command(tmp_path, capsys,
                                                                                          monkeypatch):
    """Red team rt25 F4: `build --only worked-example` failed with no file or line, and `check` passed
    the same project; the example is evaluated when the project is read, as every command reads it."""
    example = (ROOT / "tests" / "data" / "rt25-too-large-example.toml").read_text("utf-8")
    make_project(tmp_path, 'derivations = ["derivs/gap3.toml"]\n' + example)
    line = 1 + example.splitlines().index("[[example]]") + 1  # the project's first line, then the example's
    monkeypatch.chdir(tmp_path)  # `check` reads the project of the folder it runs in
    for args in (["check"], ["example"], ["build", "--only", "worked-example", "--out", str(tmp_path / "o")],
                 ["web", "--out", str(tmp_path / "w")]):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert f"elbo-sym.toml:{line}:1: example 1: numbers too large for exact arithmetic" in err[0]
        assert err[1:] == ["    [[example]]", "    ^"], err
    assert not (tmp_path / "o").exists() and not (tmp_path / "w").exists()


def test_a_projects_examples_are_worked_out_once_when_read(tmp_path, monkeypatch):
    """Each [[example]] is worked out when elbo-sym.toml is read (its errors are the file's), and the
    handout, the site's page and `example` show that one: none works it out again."""
    import elbo_sym.lesson.examples as examples_module
    from elbo_sym.publish.commands import course_examples
    from elbo_sym.publish.handouts import worked_example_handout
    from elbo_sym.publish.web import worked_example_page

    built: list = []
    build = examples_module._build
    monkeypatch.setattr(examples_module, "_build", lambda *args: built.append(args[0]) or build(*args))
    second = CONFIG + '\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/3", "2/3"]\nq = ["1/4", "3/4"]\n'
    project = load_project(make_project(tmp_path, second))
    assert [e.prior for e in project.examples] == [EXAMPLE[0], (F(1, 2), F(1, 2))]
    assert [b.prior for b in built] == [EXAMPLE[0], (F(1, 2), F(1, 2))]  # once each, in order
    handout = worked_example_handout(project.examples)
    page, _ = worked_example_page(project.examples[1])
    assert course_examples(project) == list(project.examples)
    assert len(built) == 2  # nothing worked out again
    assert [c["K"] for c in handout.context["examples"]] == [3, 2] and "two states (0 and 1)" in page.body


@pytest.mark.parametrize("listed", ['["."]', '["g.toml", "g.toml", "./g.toml"]', '[".", "g.toml"]'])
def test_the_project_reads_each_derivation_once_and_never_itself(tmp_path, capsys, monkeypatch, listed):
    """`derivations = ["."]` lists the folder of elbo-sym.toml: the project file is no derivation
    (it was read as one: "unknown key 'derivations'"); one file named twice is one derivation."""
    (tmp_path / "g.toml").write_text((ROOT / "derivations" / "gap.toml").read_text("utf-8"), "utf-8")
    (tmp_path / PROJECT_FILE).write_text(f'title = "C"\nderivations = {listed}\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("g.toml \u2014 ") == 1 and "\n1 derivation(s), 4 step(s)" in out


def test_the_project_decks_in_a_listed_folder_are_not_derivations(tmp_path, capsys, monkeypatch):
    """derivations = ["."] also lists the folder of the project's decks: a deck the project names
    is read as a deck only (it was read as a derivation too: "unknown key 'question'")."""
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "quiz.toml").write_text(
        (ROOT / "elbo_sym" / "lesson" / "data" / "selfcheck.toml").read_text("utf-8"), "utf-8")
    (tmp_path / "g.toml").write_text((ROOT / "derivations" / "gap.toml").read_text("utf-8"), "utf-8")
    (tmp_path / PROJECT_FILE).write_text('derivations = ["."]\nselfcheck = "cards/quiz.toml"\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "quiz.toml" not in out and "\n1 derivation(s), 4 step(s)" in out


# --------------------------------------------------------------------------- cases differ; K; parts


@pytest.mark.full
@pytest.mark.parametrize("seed", [2026, 0, 7, 11, 12345])
@pytest.mark.parametrize("K", [2, 3])
def test_no_two_cases_share_a_prior(seed, K):
    sheet = generate_exercises(seed, 6, K)
    priors = [e.prior for e in sheet]
    assert len(set(priors)) == len(priors), priors
    drill = tight_drill(seed, 4, K)
    drill_priors = [c.prior for c in drill.cases]
    assert len(set(drill_priors)) == len(drill_priors), drill_priors


def test_the_default_sheet_no_longer_repeats_a_prior():
    """Cases 2 to 5 of the default sheet all had p(z) = (7/10, 3/10)."""
    priors = [e.prior for e in generate_exercises(2026, 6)]
    assert priors.count((F(7, 10), F(3, 10))) <= 1 and len(set(priors)) == 6


@pytest.mark.full
def test_a_long_binary_sheet_still_has_distinct_priors():
    sheet = generate_exercises(3, 40)
    priors = [e.prior for e in sheet]
    assert len(set(priors)) == 40
    assert all(p.denominator <= 20 for e in sheet for p in e.prior)
    assert generate_exercises(3, 13).exercises == sheet.exercises[:13]  # a prefix, as always


def test_K3_sheets_have_exact_keys():
    sheet = generate_exercises(11, 3, 3)
    for e in sheet:
        assert e.K == 3 and len(e.q) == 3 and e.key.all_proved
        expected = quantities(e.prior, e.likelihood, e.q)
        assert e.key.evidence.nats == f"{expected['evidence']:.6f}"
        assert e.key.gap.nats == f"{expected['log_evidence'] - expected['elbo']:.6f}"
    drill = tight_drill(11, 2, 3)
    assert drill.ok and all(len(c.prior) == 3 and c.gap_is_zero for c in drill.cases)


def test_parts_choose_the_questions():
    assert CLI_PARTS == PARTS  # the CLI's copy (kept to parse options without SymPy)
    assert [t.key for t in select_tasks(["gap", "evidence"])] == ["evidence", "gap"]  # the lesson's order
    with pytest.raises(ExampleInputError, match="unknown part 'elbow'"):
        select_tasks(["elbow"])
    sheet = generate_exercises(7, 2, parts=["evidence", "kl_prior"])
    assert [t.key for t in sheet.tasks] == ["evidence", "kl_prior"]


def test_cli_sheets_take_K_seed_count_parts(capsys):
    assert main(["exercises", "--K", "3", "--seed", "11", "--count", "2", "--parts", "evidence,gap"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Exercise sheet: seed 11, 2 case(s), K = 3")
    assert "a) the evidence p(x)" in out and "b) the gap" in out and "posterior p(z | x) for each z" not in out
    case1 = next(line for line in out.splitlines() if line.startswith("Case 1:"))
    assert case1.count(",") >= 6  # three values per vector
    assert main(["drill", "--K", "3", "--count", "2", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "K = 3" in out and out.count("equal exactly: yes") == 2
    assert main(["exercises", "--parts", "evidence,elbow"]) == 2
    assert "unknown part 'elbow'" in capsys.readouterr().err
    assert main(["drill", "--K", "7"]) == 2
    capsys.readouterr()


def test_cli_sheets_read_the_project(tmp_path, capsys, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["exercises"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Exercise sheet: seed 11, 3 case(s), K = 3")
    assert main(["exercises", "--seed", "12", "--K", "2"]) == 0  # options win
    assert capsys.readouterr().out.startswith("Exercise sheet: seed 12, 3 case(s), K = 2")
    assert main(["drill"]) == 0
    assert capsys.readouterr().out.startswith("Tight-case drill: seed 11, 2 case(s), K = 3")
    assert main(["example", "--json"]) == 0
    assert '"prior": [\n    "1/2",\n    "1/4",\n    "1/4"\n  ]' in capsys.readouterr().out
    assert main(["cards"]) == 0
    out = capsys.readouterr().out
    assert "Zebra question" in out and "Narwhal" in out


# --------------------------------------------------------------------------- the custom project's handouts


@pytest.fixture(scope="module")
def project_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("project")
    make_project(folder)
    return folder


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_build_makes_every_handout_from_the_projects_files(project_build, capsys):
    folder = project_build
    out = folder / "handouts"
    assert main(["build", "--project", str(folder), "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "checked 1 derivation(s)" in printed
    names = sorted(p.stem for p in out.glob("*.pdf"))
    assert names == sorted(["derivations", "worked-example", "exercises", "answers", "tight-drill",
                            "selfcheck", "flashcards"])

    # derivations: the project's K = 3 file only, with its example's numbers
    text = pdf_text(out / "derivations.pdf")
    assert "The gap with three states" in text and "The ELBO in two lines" not in text
    assert "3 latent states" in text
    example = quantities(*((F(1, 2), F(1, 3), F(1, 6)), (F(1, 4), F(1, 2), F(3, 4)), (F(1, 5), F(2, 5), F(2, 5))))
    assert f"{example['kl']:.4f}" in text and f"{example['kl'] / math.log(2):.4f}" in text  # the claim's sides

    # the worked example: the project's, K = 3, every number; no "binary", no figure
    text = pdf_text(out / "worked-example.pdf")
    ex = quantities(*EXAMPLE)
    assert "0.375" in text  # p(x) = 3/8
    for key in ("log_evidence", "elbo", "kl"):
        assert f"{ex[key]:.6f}" in text, key
    assert "binary" not in text.lower() and "two states" not in text and "3 states" in text
    assert "The bound as a function of" not in text

    # the exercises: seed 11, K = 3, the three parts; the key has the numbers, the sheet none
    sheet, key = pdf_text(out / "exercises.pdf"), pdf_text(out / "answers.pdf")
    assert "seed 11" in sheet and "3 latent states" in sheet and "binary" not in sheet.lower()
    assert "two states" not in sheet and "the reconstruction term" not in sheet
    for e in generate_exercises(11, 3, 3):
        assert f"Case {e.index}" in sheet and f"Case {e.index}" in key
        values = quantities(e.prior, e.likelihood, e.q)
        for value in (values["evidence"], values["log_evidence"] - values["elbo"]):
            assert f"{value:.6f}" in key and f"{value:.6f}" not in sheet
    assert "Case 4" not in sheet

    # the drill: seed 11, two tight K = 3 cases
    text = pdf_text(out / "tight-drill.pdf")
    assert "seed 11" in text and "3 latent states" in text and "Case 3: a near miss" in text
    for c in tight_drill(11, 2, 3).cases:
        assert f"{quantities(c.prior, c.likelihood, c.q)['log_evidence']:.6f}" in text

    # the decks: the project's
    assert "Narwhal" in pdf_text(out / "selfcheck.pdf")
    cards = squash(pdf_text(out / "flashcards.pdf"))
    assert "Zebraquestion" in cards and "Walrusanswer" in cards and "marginallikelihood" not in cards


@pytest.mark.full
def test_web_pages_honour_the_project(project_build, capsys):
    folder = project_build
    out = folder / "pages"
    assert main(["web", "--project", str(folder), "--out", str(out), "--K", "3"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    names = sorted(p.name for p in out.iterdir())
    assert "worked-example-elbo.svg" not in names  # a K = 3 example has no figure
    worked = (out / "worked-example.md").read_text()
    assert "3 states" in worked and "binary" not in worked
    exercises = (out / "exercises.md").read_text()
    assert "Seed 11, 3 cases" in exercises and "3 states, 0 to 2" in exercises and "--K 3" in exercises
    assert "reconstruction" not in exercises  # the project's parts
    assert "Zebra question" in (out / "flashcards.md").read_text()
    assert "The gap with three states" in (out / "derivations.md").read_text()


def test_the_title_and_the_folders_below_a_derivation_folder(tmp_path):
    make_project(tmp_path, 'title = "Week 5: bounds"\nderivations = ["course"]\n')
    for folder in ("course/b", "course/a/deep", "course/.hidden", "course/empty", "course/a"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for name in ("course/top.toml", "course/b/x.toml", "course/a/deep/y.toml", "course/.hidden/z.toml"):
        (tmp_path / name).write_text("")
    (tmp_path / "course" / "loop").symlink_to(tmp_path / "course", target_is_directory=True)
    project = load_project(tmp_path / PROJECT_FILE)
    assert project.title == "Week 5: bounds"
    found = [Path(p).relative_to(tmp_path).as_posix() for p in project.derivation_paths()]
    assert found == ["course", "course/a/deep", "course/b"]  # no hidden folder, no empty one, no link loop
    assert project.derivation_paths(["other.toml"]) == ["other.toml"]  # the command line's paths as given


def test_flashcards_anki_uses_the_projects_deck_and_title(tmp_path, capsys):
    import json
    import sqlite3
    import zipfile

    (tmp_path / "cards.toml").write_text('title = "Own cards"\n[[card]]\nfront = "Zebra?"\nback = "A horse."\n')
    make_project(tmp_path, 'title = "Course A"\nflashcards = "cards.toml"\n')
    assert main(["flashcards", "--project", str(tmp_path), "--anki", str(tmp_path / "a.apkg")]) == 0
    assert 'Anki deck "Course A"' in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "a.apkg") as package:
        package.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        decks = json.loads(db.execute("select decks from col").fetchone()[0])
        fields = [row[0] for row in db.execute("select flds from notes")]
    finally:
        db.close()
    assert "Course A" in [d["name"] for d in decks.values()]
    assert len(fields) == 1 and "Zebra?" in fields[0].split("\x1f")[0]
    assert main(["flashcards", str(tmp_path / "cards.toml"), "--project", str(tmp_path)]) == 2  # one or the other
    (tmp_path / "untitled.toml").write_text('[[card]]\nfront = "f"\nback = "b"\n')
    assert main(["flashcards", str(tmp_path / "untitled.toml"), "--anki", str(tmp_path / "u.apkg")]) == 2
    assert "give the deck a title" in capsys.readouterr().err


# --------------------------------------------------------------------------- the course's title

TITLED = r"""title = 'Prob. ML & co: 100% #5_b, \$20 and $ELBO(q)$'
derivations = ["derivs"]
selfcheck = "cards/selfcheck.toml"
"""
TITLE_LATEX = r"Prob. ML \& co: 100\% \#5\_b, \$20 and \(\mathcal{L}(q)\)"
LESSON_NAME = "Latent variables and the ELBO"


def rendered(folder: Path, *, titled: bool) -> dict[str, str]:
    """The LaTeX of three of the project's handouts, with or without its title."""
    from dataclasses import replace

    from elbo_sym.publish.project import course_handouts
    from elbo_sym.report.build import check_all

    project = load_project(folder / PROJECT_FILE)
    project = project if titled else replace(project, title="")
    results, errors = check_all(project.derivation_paths(), 10.0)
    assert not errors
    return {h.name: h.render() for h in course_handouts(results, project, budget=10.0)
            if h.name in ("derivations", "selfcheck", "find-the-mistake")}


@pytest.mark.full
def test_the_course_title_heads_every_handout_escaped_like_prose(tmp_path):
    make_project(tmp_path, TITLED)
    slip = ROOT / "derivations" / "teaching" / "gap-slip.toml"  # a teaching file: find-the-mistake.pdf
    (tmp_path / "derivs" / slip.name).write_text(slip.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_project(tmp_path / PROJECT_FILE).title == r"Prob. ML & co: 100% #5_b, \$20 and $ELBO(q)$"
    titled, plain = rendered(tmp_path, titled=True), rendered(tmp_path, titled=False)
    # the first page has no running header: the title stands above the handout's own, unless it is the subtitle
    above = (f"  {{\\small\\scshape\\color{{black!60}}\\fittext{{0.9\\textwidth}}{{{TITLE_LATEX}}}\\par}}\n"
             "  \\vspace{0.5em}\n")
    assert above in titled["derivations"]
    assert all(above not in titled[name] for name in ("selfcheck", "find-the-mistake"))
    titled = {name: tex.replace(above, "") for name, tex in titled.items()}
    for name, tex in titled.items():
        header = f"\\fancyhead[L]{{\\small\\scshape \\fittext{{0.9\\headwidth}}{{{TITLE_LATEX}}}}}"
        assert header in tex, name  # one line: a long title is scaled down, never wrapped into the page
        assert "ML & co" not in tex and " 100% " not in tex and "#5_b" not in tex, name  # never raw
        assert LESSON_NAME not in tex, name
        assert f"\\fancyhead[L]{{\\small\\scshape {LESSON_NAME}}}" in plain[name], name
        unfitted = tex.replace(f"\\fittext{{0.9\\headwidth}}{{{TITLE_LATEX}}}", TITLE_LATEX)
        assert unfitted.replace(TITLE_LATEX, LESSON_NAME) == plain[name], name  # only the title differs
    assert set(titled) == {"derivations", "selfcheck", "find-the-mistake"}
    for name in ("selfcheck", "find-the-mistake"):  # where the lesson's name was the subtitle
        assert f"{{\\large\\scshape {TITLE_LATEX}\\par}}" in titled[name], name
    assert "derivations" in titled and all(above not in tex for tex in plain.values())


def test_a_course_title_whose_formula_does_not_parse_is_refused_at_its_line(tmp_path):
    make_project(tmp_path, 'derivations = ["derivs"]\n\ntitle = "Week $ELBO(q$"\n')
    with pytest.raises(DerivationError) as error:
        load_project(tmp_path / PROJECT_FILE)
    assert f"{PROJECT_FILE}:3" in str(error.value) and "title" in str(error.value)


def test_the_site_title_is_the_courses_without_a_title_option():
    from elbo_sym.publish.site import DEFAULT_SITE_TITLE, site_title

    assert site_title(None, r"ML & co, \$5 and $ELBO(q)$") == "ML & co, $5 and ELBO(q)"  # as plain text (rt48 F4)
    assert site_title("Given", "The course") == "Given"  # --title wins
    assert site_title(None, "") == DEFAULT_SITE_TITLE


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_build_and_site_carry_the_course_title(tmp_path, capsys):
    import json

    make_project(tmp_path, TITLED)
    out = tmp_path / "handouts"
    only = ["--only", "exercises", "--only", "selfcheck"]
    assert main(["build", "--project", str(tmp_path), "--out", str(out), *only]) == 0, capsys.readouterr().err
    for name in ("exercises", "selfcheck"):
        text = pdf_text(out / f"{name}.pdf", "-f", "2")  # page 1 has no running header
        assert "Prob. ML & co: 100% #5_b, $20 and L(q)" in text.splitlines(), name  # a line of its own
        assert LESSON_NAME.lower() not in pdf_text(out / f"{name}.pdf").lower(), name
    site = tmp_path / "site"
    assert main(["web", "--project", str(tmp_path), "--site", str(site)]) == 0, capsys.readouterr().err
    config = (site / "astro.config.mjs").read_text(encoding="utf-8")
    assert f"title: {json.dumps('Prob. ML & co: 100% #5_b, $20 and ELBO(q)')}," in config
    index = (site / "src" / "content" / "docs" / "index.md").read_text(encoding="utf-8")
    assert "title: \"Prob. ML & co: 100% #5_b, $20 and ELBO(q)\"" in index  # plain text, as Anki's (rt48 F4)
    assert LESSON_NAME not in config
    long_title = ", ".join(["Probabilistic machine learning for the curious"] * 4)  # 191 characters
    (tmp_path / PROJECT_FILE).write_text(TITLED.replace(TITLED.splitlines()[0], f'title = "{long_title}"'))
    assert main(["build", "--project", str(tmp_path), "--out", str(out), "--only", "exercises"]) == 0
    # the running head: its first words, then "…" (T1 sets . . .), at the head's size (rt31: scaled to ~3 pt)
    assert "Probabilistic machine learning for the curious. . ." in pdf_text(out / "exercises.pdf", "-f", "2",
                                                                             "-l", "2").splitlines()
    page1 = "".join(pdf_text(out / "exercises.pdf", "-f", "1", "-l", "1").split())
    assert "".join(long_title.split()) in page1  # the whole title above the handout's
