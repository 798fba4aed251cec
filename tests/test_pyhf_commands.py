"""The pyhf commands README.md gives to reproduce each preset's CLs from the workspace that
``t2khnl limit`` writes (``workspace_<detector>.json``: the model point, 0 observed events).

* ND280 2019, corrected (exact CLs, the infinite-toy limit): ``pyhf cls --calctype
  toybased``, within its toy error; the asymptotic default is far off (0.014 at our 0.05).
* ND280 2019, published (asymptotic CLs+b): ``pyhf cls`` prints CLs_obs = 2 CLs+b, since
  CLb = 1/2 exactly when the data are the background-only Asimov data (0 events, b = 0);
  the CLs+b itself is pyhf's ``hypotest(..., return_tail_probs=True)``.
* Upgrade (background-only Asimov sensitivity): ``pyhf cls``'s median expected CLs,
  ``CLs_exp[2]`` (its CLs+b: half of it).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner
from pyhf.cli import cli as pyhf_cli
from scipy import optimize

from t2khnl import config, counting, experiment

README = Path(__file__).resolve().parents[1] / "README.md"
#: FHC:RHC split of the signal (about the ND280 2019 POT ratio).
SPLIT = {"fhc": 0.66, "rhc": 0.34}
#: The Python line README.md gives for the published preset's CLs+b.
CLSB_LINE = ("import json, pyhf; ws = pyhf.Workspace(json.load(open('workspace_nd280.json'))); "
             "m = ws.model(); print(pyhf.infer.hypotest(1.0, ws.data(m), m, "
             "return_tail_probs=True)[1][0])")


def _workspace(detector: str, preset: str, tmp_path: Path, total: float | None = None):
    """The workspace ``t2khnl.limit.run`` writes, at the signal [events] where the preset's
    CLs is 0.05 (ND280) or at ``total`` events (upgrade); with our CLs of it."""
    cfg = config.load(preset)
    counts = experiment.build(detector, cfg)
    cls_fn = counts.cls

    def signal(s: float) -> dict[str, float]:
        return {beam: share * s for beam, share in SPLIT.items()}

    if total is None:
        total = optimize.brentq(lambda s: cls_fn(signal(s)) - 0.05, 0.5, 10.0, xtol=1e-12)
    ws = counts.workspace(signal(total))
    path = tmp_path / f"workspace_{detector}.json"
    path.write_text(counting.workspace_json(ws) + "\n")
    return path, ws, cls_fn(signal(total)), total


def _pyhf_cls(*args: str) -> dict:
    """``pyhf cls ARGS`` (pyhf's own click command, in this process)."""
    result = CliRunner().invoke(pyhf_cli, ["cls", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_readme_gives_these_commands():
    text = README.read_text()
    for command in ("pyhf cls --calctype toybased workspace_nd280.json",
                    "pyhf cls workspace_nd280.json", "pyhf cls workspace_upgrade.json",
                    CLSB_LINE):
        assert command in text, command
    assert "`pyhf cls` reproduces our CLs" not in text


def test_published_nd280_is_half_of_pyhf_cls(tmp_path, monkeypatch):
    path, _, ours, total = _workspace("nd280", "published", tmp_path)
    assert total == pytest.approx(0.5 * 1.6448536269514722**2, rel=1e-9)  # 1.353 events
    assert ours == pytest.approx(0.05, rel=1e-9)
    printed = _pyhf_cls(str(path))
    assert printed["CLs_obs"] == pytest.approx(2 * ours, rel=1e-9)  # 0.10, not 0.05
    monkeypatch.chdir(tmp_path)
    line = subprocess.run([sys.executable, "-c", CLSB_LINE], capture_output=True, text=True,
                          check=True).stdout
    assert float(line) == pytest.approx(ours, rel=1e-9)


@pytest.mark.parametrize("preset", ["corrected", "published"])
def test_upgrade_is_the_median_expected_cls_of_pyhf_cls(tmp_path, preset):
    path, _, ours, _ = _workspace("upgrade", preset, tmp_path, total=2.7)
    printed = _pyhf_cls(str(path))
    factor = 2.0 if preset == "published" else 1.0  # CLs+b = CLs x CLb, CLb = 1/2 at Asimov
    assert printed["CLs_exp"][2] == pytest.approx(factor * ours, rel=1e-9)


def test_corrected_nd280_toys_converge_to_our_exact_cls(tmp_path):
    """What ``pyhf cls --calctype toybased`` computes (pyhf's toy calculator, test
    statistic q~), with fewer toys and a fixed seed: within 5 binomial sigma of our exact
    CLs = exp(-3) = 0.05, where the asymptotic default gives 0.014."""
    path, ws, ours, total = _workspace("nd280", "corrected", tmp_path)
    assert total == pytest.approx(-math.log(0.05), rel=1e-9) and ours == pytest.approx(0.05)
    asymptotic = _pyhf_cls(str(path))["CLs_obs"]
    assert asymptotic == pytest.approx(0.0144, abs=5e-4)
    np.random.seed(20251202)  # pyhf's numpy backend draws its toys from numpy's global RNG
    model = ws.model(modifier_settings=counting.MODIFIER_SETTINGS)
    ntoys = 400
    toys = float(pyhf.infer.hypotest(1.0, ws.data(model), model, test_stat="qtilde",
                                     calctype="toybased", ntoys=ntoys, track_progress=False))
    assert abs(toys - ours) < 5 * math.sqrt(ours * (1 - ours) / ntoys)


@pytest.mark.slow
def test_corrected_nd280_pyhf_cli_toys(tmp_path):
    """The README's command itself: ``pyhf cls --calctype toybased`` (2,000 toys, unseeded,
    ~20 s of CPU) lands within 5 binomial sigma (0.025) of our exact CLs."""
    path, _, ours, _ = _workspace("nd280", "corrected", tmp_path)
    printed = _pyhf_cls("--calctype", "toybased", str(path))
    assert abs(printed["CLs_obs"] - ours) < 5 * math.sqrt(ours * (1 - ours) / 2000)
