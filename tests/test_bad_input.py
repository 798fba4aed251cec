"""Every bad input of ``simulate``, ``limit``, ``scan``, ``reproduce``, ``validate authors``
and ``validate paper-grid`` (tests/bad_inputs.py):
one line on stderr, exit code 2, nothing written in the working folder and no cross section
cached (the geometry cache, a few kB whatever the mass, may be)."""

from __future__ import annotations

import pytest
from bad_inputs import CASES
from click.testing import CliRunner

from t2khnl import cli


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("case", [c for c in CASES if not c.slow],
                         ids=lambda c: " ".join(c.args))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, cache, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("T2KHNL_CACHE_DIR", str(cache))
    result = CliRunner().invoke(cli.main, list(case.args))
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2khnl: error: "), result.stderr
    for word in case.words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert list(tmp_path.iterdir()) == []
    assert not (cache / "xsec").exists()
