"""Malformed-spectrum corpus (issue 9, item 5): zero tracebacks, zero results for garbage.

Each of the files in ``data/fuzz`` (at least 60) is analysed as an absorbance spectrum and as a PL spectrum, through
the same reader and analysis the command line uses. Every one must end in a :class:`~flowqd.errors.FlowqdError`
(one line, naming the file) — for absorbance without exception; for PL, only the two files that are real emission
bands may give a result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowqd.analysis.absorbance import analyze_absorbance
from flowqd.analysis.io import read_spectra
from flowqd.analysis.pl import analyze_pl
from flowqd.errors import FlowqdError

FUZZ = Path(__file__).parent / "data" / "fuzz"
CORPUS = sorted(p for p in FUZZ.iterdir() if p.name != "README.md")
#: the only files of the corpus that are genuine emission spectra (a band on a flat baseline)
VALID_PL = {"pl-counts.csv", "pl-normalised.csv"}


def _outcome(path: Path, kind: str) -> str:
    try:
        spectra = read_spectra(path, kind=kind)
        for s in spectra:
            if kind == "absorbance":
                analyze_absorbance(s)
            else:
                analyze_pl(s)
    except FlowqdError as err:
        msg = str(err)
        assert "\n" not in msg and msg.startswith(str(path)), msg
        return "refused"
    return "result"


def test_corpus_size() -> None:
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_garbage_never_gives_an_absorbance_result(path: Path) -> None:
    assert _outcome(path, "absorbance") == "refused"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_garbage_never_gives_a_pl_result(path: Path) -> None:
    outcome = _outcome(path, "intensity")
    assert outcome == "refused" or path.name in VALID_PL, outcome
