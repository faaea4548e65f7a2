"""The students' site (`web --site --solutions none`) hands out no answers: its checker does not
offer the teaching files (their ``expect_refuted`` names the mistakes, and checking one shows each
counterexample and its repair), and its find-the-mistake page does not promise solutions.  The
teacher's site (solutions separate) keeps them.  Read from the pages as written, the checker's
files from the JSON its page embeds."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from elbo_sym.publish.project import Project, Settings, course_web

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "derivations" / "jensen.toml"
TEACHING = ROOT / "derivations" / "teaching" / "gap-slip.toml"


@pytest.fixture(scope="module")
def sites(checked_report):
    reports = [checked_report(LESSON), checked_report(TEACHING)]
    return {mode: {item.path: item for item in course_web(reports, Project(settings=Settings(solutions=mode)),
                                                          budget=10.0, site_title="Week 5")}
            for mode in ("none", "separate")}


def checker_files(items) -> dict[str, str]:
    body = items["src/content/docs/check.md"].data.decode("utf-8")
    (data,) = re.findall(r'<script type="application/json" id="elbo-checker-files">(.*?)</script>', body, re.S)
    return json.loads(html.unescape(data))


@pytest.mark.full
def test_the_students_checker_offers_no_teaching_file(sites) -> None:
    students, teachers = checker_files(sites["none"]), checker_files(sites["separate"])
    assert [Path(name).name for name in students] == ["jensen.toml"]
    assert sorted(Path(name).name for name in teachers) == ["gap-slip.toml", "jensen.toml"]
    assert any("expect_refuted" in text for text in teachers.values())
    assert not any("expect_refuted" in text for text in students.values())


@pytest.mark.full
def test_find_the_mistake_promises_solutions_only_when_it_has_them(sites) -> None:
    students = sites["none"]["src/content/docs/find-the-mistake.md"].data.decode("utf-8")
    teachers = sites["separate"]["src/content/docs/find-the-mistake.md"].data.decode("utf-8")
    assert "olution" not in students and "Counterexample" not in students and "counterexample" not in students
    assert "solutions with exact counterexamples" in teachers and "Solution" in teachers
