"""Red team rt8: questions of one Moodle export must never collide on a category and id number,
since Moodle's import silently strips a question's id number when its category already
holds it (question/format.php: "We cannot have duplicate idnumbers in a category. Just remove it.")."""

from __future__ import annotations

import re

import pytest

from elbo_sym.cli import main
from elbo_sym.limits import MOODLE_NAME_CHARS
from elbo_sym.publish.moodle import moodle_quiz


def _deck(folder, title: str):
    folder.mkdir()
    deck = folder / "cards.toml"
    deck.write_text(f"title = '''{title}'''\n\n[[card]]\nfront = \"Q\"\nback = \"A\"\n"
                    f'formula = "p(x, z) = p(z) * p(x | z)"\n', encoding="utf-8")
    return deck


@pytest.mark.parametrize(("first", "second"), [
    ("Week cards", "Week cards"),
    ("Week cards", "WEEK CARDS"),  # a database that compares names without case
    ("& " * 90 + "one", "& " * 90 + "two"),  # equal once cut at Moodle's 255 (an & is stored as 5)
    ("Résumé of the bound", "Resume of the bound"),  # MySQL's usual collations ignore accents (rt10)
])
def test_two_decks_with_one_category_are_refused_naming_both(tmp_path, capsys, first, second):
    assert len(first) < 200 < MOODLE_NAME_CHARS  # the deck loader's title limit
    one, two = _deck(tmp_path / "wk1", first), _deck(tmp_path / "wk2", second)
    target = tmp_path / "two.xml"
    assert main(["cards", str(one), str(two), "--moodle", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(one) in err and str(two) in err and "same Moodle category" in err
    assert not target.exists()


def test_two_decks_with_distinct_titles_are_exported(tmp_path, capsys):
    one, two = _deck(tmp_path / "wk1", "Week 1"), _deck(tmp_path / "wk2", "Week 2")
    target = tmp_path / "two.xml"
    assert main(["cards", str(one), str(two), "--moodle", str(target)]) == 0
    assert target.read_text(encoding="utf-8").count('<question type="category">') == 2


def test_one_seed_with_two_counts_gives_case_i_one_id_as_it_is_one_question():
    """Case i of a seed is the same case whatever the count (the same numbers, answers and key):
    the same id number, so importing the 6-case quiz after the 2-case one adds cases 3 to 6 and
    keeps (Moodle drops the duplicates) cases 1 and 2, whose only difference is "of 2" in the text."""
    def cases(count: int) -> list[tuple[str, str]]:
        """(id number, the question without its name and with "of COUNT" blanked) per case."""
        found = re.findall(r'<question type="cloze">.*?</question>', moodle_quiz(2026, count), re.S)
        return [(re.search(r"<idnumber>(.*?)</idnumber>", q).group(1),
                 re.sub(r"<name>.*?</name>", "", q, flags=re.S).replace(f" of {count}.", " of N."))
                for q in found]
    two, six = cases(2), cases(6)
    assert len(two) == 2 and len({i for i, _ in six}) == 6
    assert two == six[:2]
