"""`check --json` reports an input error's column 1-based, as the text's file:line:column does (red team
rt24 F4: the text said 7:12 and the JSON 11), and `InputErrorReport.from_dict` reads it back."""

from __future__ import annotations

import json

from elbo_sym.cli import main
from elbo_sym.report.model import InputErrorReport


def test_the_json_column_is_the_texts_and_round_trips(short_tmp, capsys):
    path = short_tmp / "p.toml"
    path.write_text('title = "t"\nK = 2\nstart = "log(p(x))"\n\n[params]\nbeta = ">= 0.99"\n\n'
                    '[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n')
    assert main(["check", "--no-cache", "--json", str(path)]) == 2
    (error,) = json.loads(capsys.readouterr().out)
    line = path.read_text().splitlines()[error["line"] - 1]
    assert error["error"].startswith(f"{path}:{error['line']}:{error['column']}:")
    assert line[error["column"] - 1:].startswith("0.99")  # 1-based: the caret's character
    report = InputErrorReport.from_dict(error)
    assert report.to_dict() == error and report.text == error["error"]
