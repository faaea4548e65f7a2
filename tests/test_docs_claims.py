"""What README.md and docs/ say about the code, beyond the commands tests/test_docs.py runs.

A newcomer trusts the prose as much as the console blocks: the option names in a synopsis, the
limits quoted in a sentence, the helper names a contributor looks up, the pytest report shown
as text, the `Guide:` links and paths of every command's --help. Each test here reads one kind
of claim and compares it with the code, so a rename or a new limit fails here first.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from test_docs import PAGES, ROOT, _anchors, blocks, matches

from elbo_sym import limits
from elbo_sym.cli import cli, main
from elbo_sym.publish.roster import BATCH_STUDENTS

LANGUAGES = {"console", "sh", "text", "toml", "json", "python", "csv"}
CODE_SPAN = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"(?<![\"\w])elbo-sym (?P<command>[a-z]+)\b(?P<rest>[^`#|]*)")
OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


def _page(name: str) -> str:
    return (ROOT / name).read_text("utf-8")


# --------------------------------------------------------------------------- fenced blocks


def test_every_fenced_block_names_its_language():
    """A bare ``` block is neither run nor marked as not run: outputs are ```text, commands that
    cannot run here ```sh, so `$ elbo-sym ...` can never sit untested in an unlabelled block."""
    for page in PAGES:
        for block in blocks(page.read_text("utf-8")):
            assert block.lang in LANGUAGES, f"{page.name}:{block.line}: ```{block.lang} (one of {sorted(LANGUAGES)})"


# --------------------------------------------------------------------------- option names


def _options(command: str) -> set[str]:
    params = cli.commands[command].params
    return {name for p in params for name in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


def _command_mentions(text: str):
    """(line, command, options) of every `elbo-sym COMMAND ...` in a code span or a block line."""
    for number, line in enumerate(text.split("\n"), 1):
        spans = [m[1] for m in CODE_SPAN.finditer(line)]
        if re.match(r"(\$ )?elbo-sym ", line.lstrip()):
            spans.append(line.lstrip())
        for span in spans:
            for mention in COMMAND.finditer(span):
                yield number, mention["command"], OPTION.findall(mention["rest"])


def _wrong_names(text: str) -> tuple[int, list[str]]:
    """How many `elbo-sym COMMAND ...` the text names, and each unknown command or option."""
    seen, wrong = 0, []
    for line, command, options in _command_mentions(text):
        seen += 1
        if command not in cli.commands:
            wrong.append(f"line {line}: no command `elbo-sym {command}`")
            continue
        wrong += [f"line {line}: `elbo-sym {command}` has no {option}" for option in options
                  if option not in _options(command)]
    return seen, wrong


def test_every_command_and_option_the_pages_name_exists():
    """`elbo-sym build ... --gallery P` in a table or a ```sh block is never run: its command and
    option names are compared with the click commands instead."""
    seen = 0
    for page in PAGES:
        named, wrong = _wrong_names(page.read_text("utf-8"))
        assert not wrong, f"{page.name}: {wrong}"
        seen += named
    assert seen >= 100


def test_the_option_check_finds_a_wrong_option():
    seen, wrong = _wrong_names("run `elbo-sym check --project week5`, then\n`elbo-sym web --gallery x` `elbo-sym tidy`")
    assert seen == 3
    assert wrong == ["line 1: `elbo-sym check` has no --project", "line 2: `elbo-sym web` has no --gallery",
                     "line 2: no command `elbo-sym tidy`"]


def test_every_make_target_the_pages_name_exists():
    targets = set(re.findall(r"^([a-z][\w-]*):", _page("Makefile"), re.MULTILINE))
    named = {target for page in PAGES
             for target in re.findall(r"(?:`|^)make ([a-z][\w-]*)", page.read_text("utf-8"), re.MULTILINE)}
    assert {"handouts", "test", "check"} <= named
    assert named <= targets, f"no such make target: {sorted(named - targets)}"


# --------------------------------------------------------------------------- every --help


def _help_texts() -> dict[str, str]:
    """Each command's own words (docstring, epilog, option help), unwrapped."""
    texts = {}
    for name, command in cli.commands.items():
        parts = [command.help or "", command.epilog or "", *(getattr(p, "help", None) or "" for p in command.params)]
        texts[name] = "\n".join(parts)
    return texts


def test_every_help_guide_link_resolves():
    guides = 0
    for name, text in _help_texts().items():
        for link in re.finditer(r"Guide: (?P<path>docs/[\w.-]+\.md)(?:#(?P<anchor>[\w-]+))?", text):
            target = ROOT / link["path"]
            assert target.is_file(), f"elbo-sym {name} --help: {link[0]}"
            if link["anchor"]:
                assert link["anchor"] in _anchors(target), f"elbo-sym {name} --help: no heading for {link[0]}"
            guides += 1
    assert guides >= len(cli.commands) - 1  # `handouts` lists, it needs no guide


def test_every_repository_file_a_help_names_exists():
    """`elbo-sym cards --check --json lesson/flashcards.toml` once pointed at a file that had moved."""
    for name, text in _help_texts().items():
        for path in re.findall(r"(?<![\w/.])(?:\w[\w.-]*/)+[\w.-]+\.toml\b", text):
            assert (ROOT / path).is_file(), f"elbo-sym {name} --help names {path}, which does not exist"


def test_every_help_example_names_real_options():
    """The `Examples:` of every --help use the command's own options."""
    seen = 0
    for name, text in _help_texts().items():
        named, wrong = _wrong_names(text)
        assert not wrong, f"elbo-sym {name} --help: {wrong}"
        seen += named
    assert seen >= len(cli.commands)


# --------------------------------------------------------------------------- names and numbers


def _sources() -> str:
    files = [*ROOT.glob("elbo_sym/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py"),
             ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "pyproject.toml"]
    return "\n".join(path.read_text("utf-8") for path in files if Path(__file__) != path)


def test_every_private_name_and_constant_the_pages_cite_exists():
    """`_sheet_options`, `WORKER_MARGIN_SECONDS`, `ELBO_SYM_NO_CACHE=1`: a contributor greps for them."""
    cited = {m[1].lstrip("$").split("=")[0] for page in PAGES for m in CODE_SPAN.finditer(page.read_text("utf-8"))}
    names = {name.split(".")[-1].removesuffix("()") for name in cited
             if re.fullmatch(r"(?:[a-z_]+\.)*(?:_\w+|[A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:\(\))?", name)}
    assert len(names) >= 20 and "ELBO_SYM_NO_CACHE" in names
    words = set(re.findall(r"\w+", _sources()))
    missing = sorted(names - words)
    assert not missing, f"cited on a page but defined nowhere: {missing}"


def test_every_repository_path_the_pages_name_exists():
    """Any `tests/...`, `bench/...`, `elbo_sym/...` path in a sentence, a table or a block (a glob
    may stand for several); web/site/ alone is made, not committed (`make web-deps`)."""
    named = 0
    for page in PAGES:
        for path in re.findall(r"(?<![\w/.-])(?:elbo_sym|tests|bench|derivations|docs|web|\.ci)/[\w./*-]*[\w*/]",
                               page.read_text("utf-8")):
            exists = path.startswith("web/site") or list(ROOT.glob(path.rstrip("/")))
            assert exists, f"{page.name}: {path} does not exist"
            named += 1
    assert named >= 100


# Each number a page quotes, one line "page :: regex :: constant" (a name in limits.py or VALUES). The
# regex must match exactly once, so rewording the sentence means updating this table, never a silent drift.
QUOTED = r"""
README.md :: seed (\d+), \d+ exercise cases :: DEFAULT_SEED
README.md :: (\d+) exercise cases, \d+ drill cases :: DEFAULT_COUNT
README.md :: (\d+) drill cases :: DRILL_COUNT
docs/01-writing-derivations.md :: number of latent states, 2 to ([\d,]+) :: MAX_K
docs/01-writing-derivations.md :: title ([\d,]+)\s+characters :: MAX_TITLE_CHARS
docs/01-writing-derivations.md :: summary ([\d,]+), `why` :: MAX_SUMMARY_CHARS
docs/01-writing-derivations.md :: `why` ([\d,]+), card :: MAX_WHY_CHARS
docs/01-writing-derivations.md :: card texts ([\d,]+), :: MAX_CARD_TEXT_CHARS
docs/01-writing-derivations.md :: self-check texts ([\d,]+), :: MAX_SELFCHECK_TEXT_CHARS
docs/01-writing-derivations.md :: no word longer than (\d+) :: MAX_WORD_CHARS
docs/01-writing-derivations.md :: k = 1 to (\d+) samples :: MAX_IWAE_SAMPLES
docs/01-writing-derivations.md :: tuples of states \(at most (\d+)\) :: MAX_IWAE_TERMS
docs/01-writing-derivations.md :: up to (\w+) layers :: MAX_CHAIN_LAYERS
docs/01-writing-derivations.md :: \(an example with 3 states\); 2 to (\d+) :: MAX_NEW_K
docs/02-what-checked-means.md :: at most\s+([\d,]+)\s+arithmetic operations :: REFERENCE_WORK_OPERATIONS
docs/02-what-checked-means.md :: \(`REFERENCE_BUDGET_SECONDS`, (\d+) s :: REFERENCE_BUDGET_SECONDS
docs/02-what-checked-means.md :: `--budget` \(default (\d+) CPU seconds\) :: STEP_BUDGET_SECONDS
docs/02-what-checked-means.md :: steps × budget, at most (\d+) s\) :: FILE_BUDGET_CAP_SECONDS
docs/02-what-checked-means.md :: at most (\d+) steps :: MAX_STEPS
docs/02-what-checked-means.md :: K × \(steps \+ 1\) ≤ ([\d,]+) :: MAX_K_TIMES_STEPS
docs/02-what-checked-means.md :: up to (\d+) variables\s+\(`MAX_CONFIGURED_VAR :: MAX_CONFIGURED_VARIABLES
docs/02-what-checked-means.md :: at most (\d+) exact\s+decisions \(`MAX_CONFIGURED_DEC :: MAX_CONFIGURED_DECISIONS
docs/01-writing-derivations.md :: from K = (\d+) on a step may need more :: LARGE_K
docs/03-publishing.md :: any K from 2 to (\d+)\) :: MAX_EXAMPLE_K
docs/03-publishing.md :: `--count` is 1 to (\d+) :: MAX_COUNT
docs/03-publishing.md :: three-state cases \(2 to (\d+); :: MAX_EXERCISE_K
docs/03-publishing.md :: default cards × budget, at most (\d+) s\) :: DECK_BUDGET_CAP_SECONDS
docs/03-publishing.md :: selfcheck.toml` \((\w+) `\[\[question\]\]`s\) :: LESSON_SELFCHECK_QUESTIONS
docs/03-publishing.md :: flashcards.toml` \((\w+)\s+`\[\[card\]\]`s\) :: LESSON_FLASHCARDS
docs/03-publishing.md :: `--count`, default (\d+)\) :: DEFAULT_COUNT
docs/03-publishing.md :: \| `tight-drill.pdf` \| (\w+) cases :: DRILL_COUNT
docs/03-publishing.md :: batched, (\d+) sheets per pdfTeX run :: BATCH_STUDENTS
docs/03-publishing.md :: `MANIFEST_LOCK_WAIT_SECONDS` \((\d+) s\) :: MANIFEST_LOCK_WAIT_SECONDS
docs/06-architecture.md :: `MAX_JOBS` = (\d+) :: MAX_JOBS
docs/06-architecture.md :: `FILES_PER_WORKER` = (\d+) :: FILES_PER_WORKER
docs/06-architecture.md :: `WORKER_MARGIN_SECONDS` = (\d+) s :: WORKER_MARGIN_SECONDS
docs/06-architecture.md :: `WORKER_WALL_PER_CPU_SECOND` = (\d+) :: WORKER_WALL_PER_CPU_SECOND
docs/06-architecture.md :: `WATCHDOG_POLL_SECONDS` = (\d+) s :: WATCHDOG_POLL_SECONDS
docs/06-architecture.md :: `REFERENCE_WORK_OPERATIONS` = ([\d,]+) :: REFERENCE_WORK_OPERATIONS
docs/06-architecture.md :: `REFERENCE_BUDGET_SECONDS` = (\d+) s :: REFERENCE_BUDGET_SECONDS
"""
VALUES = {**vars(limits), "BATCH_STUDENTS": BATCH_STUDENTS,
          "LESSON_SELFCHECK_QUESTIONS": _page("elbo_sym/lesson/data/selfcheck.toml").count("\n[[question]]\n"),
          "LESSON_FLASHCARDS": _page("elbo_sym/lesson/data/flashcards.toml").count("\n[[card]]\n")}
NUMBERS = [tuple(line.split(" :: ")) for line in QUOTED.strip().split("\n")]
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "sixteen": 16}


@pytest.mark.parametrize(("page", "pattern", "name"), NUMBERS, ids=[f"{p}:{n}" for p, _, n in NUMBERS])
def test_every_quoted_limit_is_the_constant(page, pattern, name):
    value = VALUES[name]
    found = re.findall(pattern, _page(page))
    assert len(found) == 1, f"{page}: /{pattern}/ matches {len(found)} times (reworded? update NUMBERS)"
    quoted = WORDS.get(found[0].lower()) or float(found[0].replace(",", ""))
    assert quoted == value, f"{page} says {found[0]}, the code has {value}"


def test_the_site_versions_on_page_3_are_the_shipped_lock():
    """docs/03 names the site's pinned packages and the warning `npm ci` prints on Node 20."""
    template = ROOT / "elbo_sym" / "publish" / "site_template"
    pinned = json.loads((template / "package.json").read_text("utf-8"))["dependencies"]
    locked = json.loads((template / "package-lock.json").read_text("utf-8"))["packages"]
    page = _page("docs/03-publishing.md")
    for shown, package in (("Astro", "astro"), ("Starlight", "@astrojs/starlight"), ("remark-math", "remark-math"),
                           ("rehype-katex", "rehype-katex"), ("katex", "katex"), ("`pyodide`", "pyodide")):
        assert f"{shown} {pinned[package]}" in page, f"docs/03 does not say {shown} {pinned[package]}"
    undici = re.search(r"`undici@([\d.]+)` \(astro → unifont, .*?Node ≥ ([\d.]+)", page, re.DOTALL)
    assert undici, "docs/03 no longer explains the undici warning"
    assert locked["node_modules/undici"]["version"] == undici[1]
    assert locked["node_modules/undici"]["engines"]["node"] == f">={undici[2]}.0"


def test_the_site_approves_each_install_script_of_its_lock():
    """npm 11 warns, and npm 12 refuses to run, a dependency's install script that package.json's
    `allowScripts` does not approve; Astro needs esbuild's and sharp's.  Every package of the lock
    that has one is approved (by name: the lock has no `resolved` URLs to pin), and nothing else."""
    template = ROOT / "elbo_sym" / "publish" / "site_template"
    approved = json.loads((template / "package.json").read_text("utf-8"))["allowScripts"]
    locked = json.loads((template / "package-lock.json").read_text("utf-8"))["packages"]
    with_scripts = {path.rsplit("node_modules/", 1)[1] for path, entry in locked.items()
                    if entry.get("hasInstallScript")}
    assert with_scripts, "the lock lists no install script: has npm changed how it records them?"
    assert approved == dict.fromkeys(sorted(with_scripts), True)
    assert "allowScripts" in _page("docs/03-publishing.md")


def test_the_rules_table_of_page_1_is_the_rule_list():
    """docs/01's Rules table names every rule a file may use, in RULE_HELP's order (the list the
    starters' comments print), and no other."""
    from elbo_sym.engine.rules import RULE_HELP, RULES

    section = _page("docs/01-writing-derivations.md").split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `([\w-]+)` \|", section, re.MULTILINE) == list(RULE_HELP) == list(RULES)


# --------------------------------------------------------------------------- JSON keys


def _keys(text: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", text))


def test_the_json_keys_page_2_lists_are_check_json_s(checked_report):
    """docs/02 lists the keys of `check --json`'s objects: a file's, then (after "and `steps`,
    each with") a step's; `*_parts` keys hold prose split into text and formulas."""
    page = _page("docs/02-what-checked-means.md")
    listed = re.search(r"one object per file \((?P<file>.*?)— and `steps`, each with (?P<step>.*?); `\*_parts`",
                       page, re.DOTALL)
    assert listed, "docs/02 no longer lists check --json's keys in the form this test reads"
    report = checked_report(str(ROOT / "derivations" / "jensen.toml")).to_dict()
    parts = {key for key in report if key.endswith("_parts")}
    assert _keys(listed["file"]) | {"steps"} == set(report) - parts
    step = report["steps"][0]
    assert _keys(listed["step"]) == set(step) - {key for key in step if key.endswith("_parts")}


def test_the_json_keys_page_3_lists_are_example_and_exercises_json(tmp_path, monkeypatch, capsys):
    page = _page("docs/03-publishing.md")
    monkeypatch.chdir(tmp_path)  # the lesson's example, not a project's
    listed = re.search(r"Keys:\s+`(?P<keys>[\w,\s]+)`", page)
    assert listed, "docs/03 no longer lists example --json's keys as `K, prior, ...`"

    assert main(["example", "--json"]) == 0
    example = json.loads(capsys.readouterr().out)
    assert [key.strip() for key in listed["keys"].split(",")] == list(example)
    assert main(["exercises", "--json", "--count", "1"]) == 0
    sheet = json.loads(capsys.readouterr().out)
    assert '`{"seed", "K", "count", "cases": [...]}`' in page and list(sheet) == ["seed", "K", "count", "cases"]
    assert set(sheet["cases"][0]) == {"index", *example}


# --------------------------------------------------------------------------- the pytest report


def test_the_pytest_failure_shown_on_page_4_is_what_the_plugin_prints(tmp_path, monkeypatch, capsys):
    """docs/04 shows (as text, since the docs test runs only `elbo-sym`) the report of `pytest
    my-variant.toml` for the starter with its step 3's KL arguments swapped: the same starter,
    the same edit, and the plugin's own formatter must print those lines, line numbers included."""
    from elbo_sym.authoring.testing import check_file, format_failure

    shown = next(b for b in blocks(_page("docs/04-python-api-and-pytest.md"))
                 if b.lang == "text" and b.body.startswith("$ pytest my-variant.toml"))
    lines = shown.body.rstrip("\n").split("\n")
    header = next(i for i, line in enumerate(lines) if line.startswith("____"))
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my-variant"]) == 0
    starter = Path("my-variant.toml")
    right = 'expr = "KL(q(z), p(z | x))"\n'
    assert starter.read_text("utf-8").count(right) == 1
    starter.write_text(starter.read_text("utf-8").replace(right, 'expr = "KL(p(z | x), q(z))"\n'), "utf-8")
    report = check_file(starter)
    assert lines[header].strip("_ ") == f"my-variant: {report.title}"
    printed = format_failure(report).rstrip("\n").split("\n")
    assert matches(tuple(lines[header + 1:]), printed), "\n".join(printed)


@pytest.mark.full  # two pytest processes, 2.7 s of CPU; the page's failure output stays in `make test` (the test above)
def test_the_python_tests_shown_on_page_4_pass_wherever_pytest_is_started(tmp_path):
    """docs/04's example test module, saved as tests/test_x.py of a project with derivations/, passes
    when pytest starts in the project's root and when it starts in tests/ (the page says "wherever
    pytest is started"): every relative path it names resolves next to the test file (rt41 F1: one
    path was relative to the root only)."""
    shown = next(b for b in blocks(_page("docs/04-python-api-and-pytest.md"))
                 if b.lang == "python" and "def test_" in b.body)
    shutil.copytree(ROOT / "derivations", tmp_path / "derivations")
    module = tmp_path / "tests" / "test_x.py"
    module.parent.mkdir()
    module.write_text(shown.body, "utf-8")
    for start, target in ((tmp_path, "tests/test_x.py"), (module.parent, "test_x.py")):
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
                             cwd=start, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
        assert run.returncode == 0 and "3 passed" in run.stdout, (start, run.stdout, run.stderr)


# --------------------------------------------------------------------------- worked numbers in the prose

_WORKED = {  # the page, the number it quotes (a regex over the prose), the file that check runs, what check prints
    "beta": ("docs/01-writing-derivations.md", r"the bound is\s+refuted at `beta = (\d+/\d+)`",
             'K = "any"\nstart = "log(p(x))"\n[params]\nbeta = "in (0, 1)"\n[[step]]\nrel = ">="\n'
             'expr = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"\nrule = "kl-nonneg"\n',
             r"beta = (\d+/\d+) \["),
    "entropy": ("docs/02-what-checked-means.md", r"`-Sum\(q\(z\) \* log\(q\(z\)\), z\) <= log\(12\)`, false only from"
                r" K = 13 on, is refuted at K = (\d+)",
                'K = "any"\nstart = "-Sum(q(z) * log(q(z)), z)"\n[[step]]\nrel = "<="\nexpr = "log(12)"\n'
                'rule = "algebra"\n', r"K = (\d+)\]"),
}


@pytest.mark.parametrize("name", sorted(_WORKED))
def test_the_refutations_the_pages_quote_are_what_check_finds(name, tmp_path, capsys):
    """docs/01's beta-ELBO refutation and docs/02's K = 13 entropy bound quote the counterexample check
    finds (red team rt55 F3: the pages said beta = 5/8 and `H(q)` at K = 34; check said 3/8 and a Gaussian)."""
    page, quoted, text, printed = _WORKED[name]
    said = re.search(quoted, " ".join(_page(page).split()))
    assert said, f"{page} no longer quotes the {name} example"
    path = tmp_path / f"{name}.toml"
    path.write_text(f'title = "{name}"\n{text}')
    assert main(["check", "--no-cache", str(path)]) == 1
    out = capsys.readouterr().out
    assert "refuted" in out
    found = re.search(printed, out.split("counterexample:", 1)[1])
    assert found and found.group(1) == said.group(1), out
