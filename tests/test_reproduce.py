"""`t2khnl reproduce --quick`: every artefact of both presets is produced and well-formed.

This is the one end-to-end run of the whole chain in the default test run (SIREN scans of
both detectors and presets, the walk, all figures, headline numbers, HEPData); it takes a
few minutes on 2 cores.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat

import pytest
from click.testing import CliRunner

from t2khnl import compare, headlines, reproduce
from t2khnl.cli import main
from t2khnl.hepdata import validate
from t2khnl.masses import parse_masses

FIGURES = ("fig2_vertices", "fig3_decay_length", "fig4_constraints", "figS1_kaon_validation",
           "fig4_nd280_2019", "fig4_upgrade")
CONTOUR_COLUMNS = ["mass_gev", "d_low", "d_high", "d_low_err", "d_high_err"]
QUICK_MASSES = parse_masses(reproduce.QUICK.masses)


def _statement(png):
    """What a PNG says it is (:func:`t2khnl.plots.style.save` writes it into the file)."""
    from PIL import Image

    with Image.open(png) as image:
        return image.text.get("Description", "")


#: The umask of the run (not the usual 022, so that a mode hard-coded to 0644 would show).
UMASK = 0o027


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "demo"
    previous = os.umask(UMASK)
    try:
        result = CliRunner().invoke(main, ["reproduce", "--quick", "--workers", "2",
                                           "--output", str(out)])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_output_honours_the_umask(quick):
    out, _ = quick
    paths = list(out.rglob("*"))
    assert len(paths) > 100
    wrong = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths
             if stat.S_IMODE(p.stat().st_mode) != (0o777 if p.is_dir() else 0o666) & ~UMASK}
    assert wrong == {}


def test_a_line_per_final_stage(quick):
    _, output = quick
    lines = output.splitlines()
    for preset in ("corrected", "published"):
        for stage in reproduce.STAGES:
            assert sum(line.startswith(f"{preset}: {stage} written (") for line in lines) == 1
    # (the output interleaves stderr, where the progress bar may end the line before)
    assert any("scans done; figures, headline numbers and HEPData" in line for line in lines)
    assert any("both presets: comparison.md and fig4_constraints written" in line
               for line in lines)


@pytest.mark.parametrize("preset", ["corrected", "published"])
def test_every_artefact_of_a_preset(quick, preset):
    out, _ = quick
    folder = out / preset
    for stem in FIGURES:
        for suffix in (".pdf", ".png"):
            path = folder / f"{stem}{suffix}"
            assert path.stat().st_size > 1000, path
        assert _statement(folder / f"{stem}.png").startswith("demo"), stem  # every figure
    assert re.fullmatch(  # the events per beam: the first attempt's, or the range reached
        rf"demo: {len(QUICK_MASSES)} masses, {reproduce.QUICK.n_events}(-\d+)? events per beam",
        _statement(folder / "fig4_constraints.png"))
    assert _statement(folder / "fig2_vertices.png") == (
        f"demo: {len(reproduce.QUICK.vertex_masses)} masses, {reproduce.QUICK.vertex_events} "
        "events per beam")
    for name in ("nd280_2019", "upgrade"):
        rows = list(csv.reader((folder / f"contour_{name}.csv").open()))
        assert rows[0] == CONTOUR_COLUMNS
        assert [float(r[0]) for r in rows[1:]] == QUICK_MASSES
        for row in rows[1:]:
            assert all(field == "" or float(field) > 0 for field in row)
        twin = json.loads((folder / f"contour_{name}.json").read_text())
        assert [r["mass_gev"] for r in twin["records"]] == QUICK_MASSES
    numbers = json.loads((folder / "headlines.json").read_text())
    for key in ("nd280_world_leading_mev", "upgrade_world_leading_mev", "minibooNE_nd280_cl",
                "minibooNE_upgrade_sigma"):
        assert key in numbers
    assert numbers["paper"] == headlines.PAPER
    assert 0.5 < numbers["kaon_validation"]["median_ratio"] < 3.0
    summary = (folder / "summary.md").read_text()
    assert "| ND280 2019 world-leading window [MeV] |" in summary and "390-743" in summary
    assert "| d_high [GeV^-1] | not excluded in between [GeV^-1] |" in summary
    validate(folder / "hepdata" / "submission.tar.gz")
    # one figure per table: each contour alone, not the whole Fig. 4
    staged = {p.name: p.read_bytes() for p in (folder / "hepdata" / "submission").glob(
        "figure_*.png")}
    assert staged == {f"figure_{det}.png": (folder / f"fig4_{name}.png").read_bytes()
                      for det, name in reproduce.SCAN_NAMES.items()}


def test_comparison_walks_every_step(quick):
    out, output = quick
    text = (out / "comparison.md").read_text()
    for step in compare.steps():
        assert f"| {step.name} |" in text
    for stem in ("fig4_constraints.pdf", "fig4_constraints.png"):
        assert (out / stem).stat().st_size > 1000
    assert _statement(out / "fig4_constraints.png").startswith("demo")
    assert "corrected:" in output and "published:" in output and "(paper: 390-743)" in output


def test_bad_preset_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "--preset", "paper", "--output",
                                       str(tmp_path)])
    assert result.exit_code == 2 and "'paper' is not one of 'corrected', 'published'" in (
        result.output)
    assert len(result.output.splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_summary_lists_holes_and_refused_edges():
    rec = {"d_low": 1.1e-6, "d_high": None, "d_low_err": 2e-8, "d_high_open": True,
           "refused": {"d_low": None, "d_high": "n_eff = 39.0 < 50"},
           "intervals": [[1.1e-6, 1.1e-5], [1.6e-5, 1e-3]]}
    assert reproduce._holes(rec) == "1.1e-05-1.6e-05"
    assert reproduce._holes({**rec, "intervals": [[1.1e-6, 1e-3]]}) == "-"
    assert reproduce._edge(rec, "d_high") == "not quoted (n_eff = 39.0 < 50)"
    assert reproduce._edge(rec, "d_low") == "1.1e-06 ± 2e-08"
