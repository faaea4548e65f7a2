"""The variants gallery: `elbo-sym build --gallery derivations/variants/` writes
beyond-the-lesson.pdf -- IWAE, the Gaussian VAE and two latent layers in the derivation
sheet's layout, their notation typeset by the one printer.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.publish.handouts import gallery_handout

VARIANTS = Path(__file__).resolve().parent.parent / "derivations" / "variants"


@pytest.mark.full
def test_gallery_context_holds_every_variant_in_order(checked_report):
    reports = [checked_report(p) for p in sorted(VARIANTS.glob("*.toml"))]
    handout = gallery_handout(reports)
    assert handout is not None and handout.name == "beyond-the-lesson"
    names = [d["name"] for d in handout.context["derivations"]]
    assert names == [r.name for r in reports]
    latex = handout.render()
    assert r"\mathcal{N}(0,\, 1)" in latex                             # Normal(0, 1)
    assert r"\mathcal{L}^{\mathrm{IWAE}}_{2}(q)" in latex              # IWAE(q, 2)
    assert "z_{1}" in latex and "z_{2}" in latex                        # two latent layers
    assert r"\sigma" in latex and r"\mu" in latex
    assert "Normal(" not in latex and "IWAE(" not in latex             # never the file syntax


def test_no_gallery_without_variants():
    assert gallery_handout([]) is None


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_build_writes_the_gallery_pdf(tmp_path, capsys):
    code = main(["build", "--gallery", str(VARIANTS), "--out", str(tmp_path), "--only", "beyond-the-lesson"])
    assert code == 0, capsys.readouterr().err
    pdf = tmp_path / "beyond-the-lesson.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert "Beyond the lesson" in text
    for title in ("The IWAE bound lies below the evidence", "The KL term of a VAE, in closed form",
                  "The hierarchical bound: two latent layers", "The gap of the Gaussian ELBO"):
        assert title in text.replace("\n", " "), title
    assert "LIWAE" in text                                  # the script L with its IWAE superscript
    assert re.search(r"N \(0, 1\)", text)                   # N(0, 1) as the printer sets it
    assert "Normal(" not in text and "**" not in text       # no file syntax leaked into the handout
    assert "refuted" not in text


@pytest.mark.full
def test_a_refuted_variant_stops_the_gallery(tmp_path, capsys):
    bad = tmp_path / "variants"
    bad.mkdir()
    text = (VARIANTS / "gaussian-kl.toml").read_text("utf-8")
    (bad / "wrong.toml").write_text(text.replace("- 1 - log(sigma**2)) / 2\"\nrule", "- log(sigma**2)) / 2\"\nrule"),
                                    "utf-8")
    code = main(["build", "--gallery", str(bad), "--out", str(tmp_path / "out"), "--only", "beyond-the-lesson"])
    assert code == 1 and "refuted" in capsys.readouterr().err
    assert not (tmp_path / "out" / "beyond-the-lesson.pdf").exists()
