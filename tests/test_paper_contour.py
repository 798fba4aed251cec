"""The authors' contour procedure (t2khnl.paper_contour) against closed forms and their files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from t2khnl import authors, model, paper_contour, stats
from t2khnl.errors import InputError

M = paper_contour.GRID_MASSES_GEV
D = paper_contour.GRID_D_GEV_INV
D0, M0 = 4e-7, 0.1  # [GeV^-1], [GeV]


def _toy(power_d: float, power_m: float) -> np.ndarray:
    """Y = (d/d0)^a (m/m0)^b: log-linear in (log m, log d), so every linear interpolation
    of log Y is exact and the contour Y = 1 is d = d0 (m/m0)^(-b/a)."""
    dd, mm = np.meshgrid(D, M, indexing="ij")
    return (dd / D0) ** power_d * (mm / M0) ** power_m


@pytest.mark.parametrize(("power_d", "power_m"), [(4.0, 1.0), (2.0, -3.0), (4.0, 0.0)])
def test_log_linear_yield_gives_its_analytic_contour(power_d, power_m):
    lines = paper_contour.grid_contour(M, D, _toy(power_d, power_m), 1.0)
    assert len(lines) == 1
    for mass in (0.012, 0.05, 0.3, 1.5):
        analytic = D0 * (mass / M0) ** (-power_m / power_d)
        if D[0] <= analytic <= D[-1]:
            assert paper_contour.lower_edge(lines, mass) == pytest.approx(analytic, rel=1e-9)
    # the level is in the statistic's unit: 16x the yield at d^4 halves the edge
    if power_d == 4.0 and power_m == 0.0:
        lines16 = paper_contour.grid_contour(M, D, 16 * _toy(4.0, 0.0), 1.0)
        assert paper_contour.lower_edge(lines16, 0.05) == pytest.approx(D0 / 2, rel=1e-9)


def test_a_bend_between_grid_masses_is_cut_short():
    """A turnover: log10 Y = 4 log10(d/d0) - 3 x^2, x = log10(m/m0). The exact edge is the
    parabola log10 d = log10 d0 + 0.75 x^2. The procedure interpolates log Y linearly in
    x twice: between grid masses (step h = 0.256 decades) and between lattice nodes (0.164);
    each chord of -3 x^2 lies below it by at most 6 h^2 / 8, which moves the edge up by a
    quarter of that. So the coarse grid draws a weaker edge, never a stronger one, by at
    most 0.1875 (h_grid^2 + h_lattice^2) decades (1.2% + 0.5%)."""
    dd, mm = np.meshgrid(D, M, indexing="ij")
    log_y = 4 * np.log10(dd / D0) - 3 * np.log10(mm / M0) ** 2
    lines = paper_contour.grid_contour(M, D, 10.0**log_y, 1.0)
    h_grid = math.log10(M[1] / M[0])
    h_lattice = (math.log10(2.0) + 2) / (paper_contour.LATTICE_POINTS - 1)
    bound = 0.1875 * (h_grid**2 + h_lattice**2)
    offsets = []
    for x in np.linspace(-0.6, 0.6, 61):
        exact = math.log10(D0) + 0.75 * x**2
        offsets.append(math.log10(paper_contour.lower_edge(lines, M0 * 10**x)) - exact)
    assert min(offsets) > -1e-9
    assert 0.3 * bound < max(offsets) <= bound + 1e-9


def test_their_yields_give_their_curve():
    """Their ND280 per-run yields (stats/STATS_NU.csv + STATS_NUBAR.csv, each run at the MC
    exposure 3.6e21 POT), scaled to the 2019 exposure and BR(ee) of their formula, summed
    and contoured at 1.353 events: t2k_new.txt, vertex for vertex within 5%."""
    total = np.zeros(100)
    for beam, pot in (("fhc", 1.234e21), ("rhc", 6.29e20)):
        for row in authors.read_yields("nd280", beam):
            total[row.index] += row.signal * pot / authors.MC_POT["nd280"]
    masses = np.array([authors.grid_point(i)[0] for i in range(100)])
    total *= model.br_ee(masses, formula="published")
    threshold = 0.5 * 1.645**2
    assert threshold == pytest.approx(1.353, abs=1e-3)
    lines = paper_contour.grid_contour(M, D, total.reshape(10, 10), threshold)
    theirs_m, theirs_d = authors.read_curve("nd280")
    (ours,) = [line for line in lines if len(line) == len(theirs_m)]
    assert np.allclose(ours[:, 0], theirs_m, rtol=0.05)
    assert np.allclose(ours[:, 1], theirs_d, rtol=0.05)
    # every vertex of their curve lies on a line of the 15 x 15 lattice
    x = np.log10(theirs_m * 1e3)
    y = np.log10(theirs_d)
    lattice_x = np.linspace(1.0, math.log10(2000.0), paper_contour.LATTICE_POINTS)
    lattice_y = np.linspace(math.log10(D[0]), math.log10(D[-1]), paper_contour.LATTICE_POINTS)
    on_x = np.min(np.abs(x[:, None] - lattice_x[None]), axis=1) < 1e-4
    on_y = np.min(np.abs(y[:, None] - lattice_y[None]), axis=1) < 1e-4
    assert np.all(on_x | on_y)


def test_threshold_ratio_is_signal_over_1p353_for_the_published_statistics():
    cls_fn = stats.make_cls_fn(background={"fhc": 0.0, "rhc": 0.0},
                               observed={"fhc": 0.0, "rhc": 0.0}, calctype="asymptotics_clsb")
    signal = {"fhc": 2.0, "rhc": 0.7}
    assert paper_contour.threshold_ratio(signal, cls_fn) == pytest.approx(2.7 / 1.353, rel=2e-3)
    exact = stats.make_cls_fn(background={"fhc": 0.0, "rhc": 0.0},
                              observed={"fhc": 0.0, "rhc": 0.0}, calctype="exact")
    assert paper_contour.threshold_ratio(signal, exact) == pytest.approx(
        2.7 / -math.log(0.05), rel=1e-8)
    assert paper_contour.threshold_ratio({"fhc": 0.0, "rhc": 0.0}, exact) == 0.0


def test_bad_grids_are_refused():
    with pytest.raises(InputError, match="shape"):
        paper_contour.grid_contour(M, D, np.ones((3, 10)), 1.0)
    with pytest.raises(InputError, match="positive"):
        paper_contour.grid_contour(M, D, np.ones((10, 10)), 0.0)
    assert paper_contour.lower_edge([], 0.1) is None


def _toy_grid():
    """A grid statistic whose contour is the paper's ND280 curve x 1.5 (d^4 toy: 1.5^4 less
    signal moves the edge up 1.5x at every mass)."""
    theirs_m, theirs_d = authors.read_curve("nd280")
    dd, mm = np.meshgrid(D, M, indexing="ij")
    edge = np.exp(np.interp(np.log(mm), np.log(theirs_m), np.log(theirs_d)))
    ratio = (dd / (1.5 * edge)) ** 4
    return paper_contour.GridStatistic("nd280", "published", M, D, ratio * 1.353, ratio, 100)


def test_paper_grid_table_and_figure(tmp_path):
    """t2khnl.paper_grid: a grid statistic round-trips through its JSON; the table reads
    ours / paper at the issue's masses; plots/paper_grid draws the computed panels."""
    from t2khnl import paper_grid
    from t2khnl.plots import paper_grid as figure
    from t2khnl.plots import style

    theirs_m, theirs_d = authors.read_curve("nd280")
    stat = _toy_grid()
    path = tmp_path / "grid.json"
    path.write_text(paper_grid.grid_json(stat))
    again = paper_grid.read_grid(path)
    assert np.array_equal(again.ratio, stat.ratio) and again.detector == "nd280"
    smooth = {"nd280": (theirs_m, 2.0 * theirs_d)}
    table = paper_grid.ratio_table(smooth, {"nd280": again})
    scan_row = next(line for line in table.splitlines() if "d scan" in line)
    assert scan_row.count("2.00") == len(paper_grid.TABLE_MASSES_GEV)
    grid_row = [float(c) for c in next(line for line in table.splitlines()
                                       if "their grid" in line).split("|")[3:-1]]
    # the toy's edge is 1.5x the paper's at the grid masses, interpolated between them
    assert np.allclose(grid_row, 1.5, rtol=0.12)
    panels = paper_grid.panels(smooth, {"nd280": again})
    panel = panels["nd280"]
    assert set(panel.ratios) == {"grid", "scan"} and panel.label == "ND280 2019"
    assert np.allclose(panel.ratios["scan"], 2.0)
    assert np.nanmedian(panel.ratios["grid"]) == pytest.approx(1.5, rel=0.05)
    fig = figure.plot(panels)
    paths = style.save(fig, tmp_path / "paper_grid")
    style.close(fig)
    assert all(p.stat().st_size > 0 for p in paths)


def test_validate_paper_grid_reads_back_its_statistic(tmp_path):
    """`t2khnl validate paper-grid` with the grid statistic already in its output folder
    simulates nothing: it writes the table and the figure from it and a scan's edges."""
    from click.testing import CliRunner

    from t2khnl import cli, paper_grid

    out = tmp_path / "grid"
    out.mkdir()
    (out / "paper_grid_nd280.json").write_text(paper_grid.grid_json(_toy_grid()))
    result = CliRunner().invoke(cli.main, ["validate", "paper-grid", "--detector", "nd280",
                                           "--scan-dir", str(tmp_path), "--output", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "nd280: grid statistic read back" in result.stdout
    table = (out / "paper_grid.md").read_text()
    assert "ours (their grid) / paper" in table and "d scan" not in table  # no scan there
    assert table in result.stdout
    assert all((out / f"paper_grid.{suffix}").stat().st_size > 0 for suffix in ("pdf", "png"))
