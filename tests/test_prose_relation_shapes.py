"""The shapes of a relation in words that warn (red team rt56 F1): a trailing qualifier ("for every q",
"in general"), an adverb before the verb ("always equals"), "is never below/above", "exceeds" and
"is bigger/smaller than" -- with ordinary sentences that must stay silent, and docs/03 listing the shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym import prose
from elbo_sym.lesson import practice
from elbo_sym.prose import split_math, worded_relations

REPO = Path(__file__).resolve().parent.parent


def words(text: str) -> list[tuple[str, str, str, str]]:
    return [(w.left, w.words, w.right, w.rel) for w in worded_relations(split_math(text))]


@pytest.mark.parametrize("text, expected", [
    # red team rt56 F1's three backs, each false (ELBO(q) <= log p(x))
    ("$ELBO(q)$ is at least $log(p(x))$ for every q.", ("is at least", ">=")),
    ("$ELBO(q)$ always equals $log(p(x))$.", ("always equals", "=")),
    ("The ELBO $ELBO(q)$ is never below $log(p(x))$.", ("is never below", ">=")),
    ("Week 5: $ELBO(q)$ exceeds $log(p(x))$", ("exceeds", ">")),  # the course title of rt56 F1
    ("$ELBO(q)$ is bigger than $log(p(x))$ in general.", ("is bigger than", ">")),
    ("$ELBO(q)$ is smaller than $log(p(x))$ for all q and x.", ("is smaller than", "<")),
    ("$ELBO(q)$ is never greater than $log(p(x))$, for each q.", ("is never greater than", "<=")),
    ("$ELBO(q)$ is never less than $log(p(x))$.", ("is never less than", ">=")),
    ("$ELBO(q)$ is above $log(p(x))$ everywhere.", ("is above", ">")),
    ("$ELBO(q)$ is below $log(p(x))$ always.", ("is below", "<")),
    ("$ELBO(q)$ thus is at most $log(p(x))$ for any q.", ("thus is at most", "<=")),
    ("$a$ is no smaller than $b$.", ("is no smaller than", ">=")),
    ("$a$ is greater than or equal to $b$.", ("is greater than or equal to", ">=")),
])
def test_the_new_shapes_are_found_with_their_relation(text, expected):
    ((_, said, _, rel),) = words(text)
    assert (said, rel) == expected


@pytest.mark.parametrize("text", [
    "$a$ is never $b$.",  # "is never" alone states "!=", which the checker does not take
    "$a$ never equals $b$.",
    "$a$ is not $b$.",
    "$a$ is $b$ for every $q$ such that the gap closes.",  # a condition, wherever it stands
    "$a$ exceeds $b$ when $c$ is large.",
    "$a$ is $b$ in general only if the model is discrete.",
    "$a$ is always $b$ times $c$.",  # the statement goes on
    "$a$ is below $b$'s mean.",
    "$a$ is above average for every $q$.",  # one formula before the qualifier
    "$ELBO(q)$ is at least $log(p(x))$ for every q?",  # a question
    "Show that $a$ exceeds $b$ for every q.",  # an exercise
    "For every $q$, the gap is $KL(q(z), p(z | x))$.",  # one formula after the words
    "$a$ is the same for every $b$.",  # not a relation between $a$ and $b$
    "the q-average of $a$ is never below $b$.",  # it speaks of the average
    # the shipped files' own sentences around a formula (derivations/, the lesson decks) stay as they were
    "The ELBO is a lower bound: $log(p(x)) - ELBO(q)$ is the gap, and it is $KL(q(z), p(z | x))$ at best.",
])
def test_ordinary_sentences_stay_silent(text):
    assert words(text) == []


def test_the_red_teams_cards_warn_at_each_back(tmp_path):
    """rt56 F1's deck: three false backs in words, no formula -- each is a warning now (was: none)."""
    path = tmp_path / "cards.toml"
    path.write_text('title = "Facts"\n\n[[card]]\nfront = "Which way?"\n'
                    'back = "$ELBO(q)$ is at least $log(p(x))$ for every q."\n\n'
                    '[[card]]\nfront = "And then?"\nback = "$ELBO(q)$ always equals $log(p(x))$."\n\n'
                    '[[card]]\nfront = "And the gap?"\nback = "The ELBO $ELBO(q)$ is never below $log(p(x))$."\n',
                    "utf-8")
    result = practice.check_deck(practice.load_deck(path))
    assert [w.line for w in result.warnings] == [5, 9, 13]
    assert all("refuted" in w.message for w in result.warnings), [w.message for w in result.warnings]


def test_docs_02_and_03_list_exactly_the_shapes_caught():
    """docs/02's rule and docs/03's paragraph on relations in words name every verb, adverb, phrase and
    qualifier the pattern takes, and say the list is short (rt56 F1: "is a warning" read as "I'll be told")."""
    listed = [*prose._VERBS, *prose._LEADING_ADVERBS, *prose._ADVERBS, *prose._PHRASES, *prose._COMPARATIVES,
              "is never", *prose._QUALIFIER_WORDS]
    for page, first, last in (("02-what-checked-means.md", "The words are a short list", "It is conservative"),
                              ("03-publishing.md", "states only in words", "has the whole rule")):
        text = " ".join((REPO / "docs" / page).read_text("utf-8").split())
        paragraph = text[text.index(first):text.index(last, text.index(first))]
        spans = " | ".join(re.findall(r"`([^`]+)`", paragraph))
        assert [word for word in listed if not re.search(rf"\b{word}\b", spans)] == [], page
