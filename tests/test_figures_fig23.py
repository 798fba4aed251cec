"""Figs. 2 and 3 on tiny samples: their data (t2khnl.figure_data) and their drawing
(t2khnl.plots.vertices, t2khnl.plots.decay_length)."""

from __future__ import annotations

import json
import math

import awkward as ak
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pytest.importorskip("mplhep")

import _figure_checks as checks  # noqa: E402

from t2khnl import figure_data, model  # noqa: E402
from t2khnl.errors import InputError  # noqa: E402
from t2khnl.geometry import REGIONS  # noqa: E402
from t2khnl.geometry import load as load_geometry  # noqa: E402
from t2khnl.plots import decay_length, style, vertices  # noqa: E402
from t2khnl.plots.constraints import MASS_RANGE_MEV  # noqa: E402
from t2khnl.reweight import weighted_median  # noqa: E402

MASS_GEV = 0.2  # near the turnover: both rock and in-detector upscatters contribute


@pytest.fixture(scope="module")
def samples():
    """ND280 and upgrade FHC samples at m_N = 0.2 GeV, d = 3.87e-7 GeV^-1 (400 injected)."""
    return figure_data.simulate_vertex_samples([MASS_GEV], n_events=400, seed=5)


def _assert_written(paths):
    pdf, png = paths
    assert pdf.stat().st_size > 1000 and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- Fig. 2
def test_samples_have_rock_and_detector_vertices(samples):
    assert samples.d_gev_inv == 3.87e-7 and samples.preset == "corrected"
    for det in figure_data.DETECTORS:
        ((mass, events),) = samples.events[det]
        assert mass == MASS_GEV and len(events) > 20
        regions = {REGIONS[i] for i in np.unique(ak.to_numpy(events["region_id"]))}
        assert "rock" in regions and len(regions) >= 3, (det, regions)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_histogram_conserves_weight(samples, axis):
    events = samples.events["nd280"][0][1]
    w = ak.to_numpy(events["weight"])
    z, t = ak.to_numpy(events["vtx_z"]), ak.to_numpy(events[f"vtx_{axis}"])
    rock = ak.to_numpy(events["region_id"]) == REGIONS.index("rock")
    # a narrow window: the rock upstream of -10 m and anything beyond 1 m across is outside
    windows = (((-10.0, 4.0), (-1.0, 1.0)), (vertices.Z_RANGE_M, vertices.TRANSVERSE_RANGE_M))
    for z_range, t_range in windows:
        vmap = vertices.histogram(events, axis, z_range_m=z_range, transverse_range_m=t_range)
        out = (z < z_range[0]) | (z > z_range[1]) | (t < t_range[0]) | (t > t_range[1])
        assert vmap.total == pytest.approx(w.sum(), rel=1e-12)
        assert vmap.outside == pytest.approx(w[out].sum(), rel=1e-9, abs=0)
        assert vmap.weights.sum() + vmap.outside == pytest.approx(w.sum(), rel=1e-9)
        assert vmap.rock == pytest.approx(w[rock].sum(), rel=1e-12)
        assert vmap.weights.shape == (vmap.z_edges_m.size - 1, vmap.transverse_edges_m.size - 1)
    narrow = vertices.histogram(events, axis, z_range_m=(-10.0, 4.0), transverse_range_m=(-1, 1))
    assert narrow.outside > 0.5 * narrow.rock  # most rock weight sits upstream of -10 m


def test_histogram_bins_linear_inside_log_outside():
    events = ak.Array(
        {
            "vtx_x": [0.05],
            "vtx_y": [0.0],
            "vtx_z": [-150.0],
            "weight": [2.0],
            "region_id": [REGIONS.index("rock")],
        }
    )
    vmap = vertices.histogram(events, "x")
    widths = np.diff(vmap.z_edges_m)
    assert vmap.z_edges_m[0] == pytest.approx(-300.0) and vmap.z_edges_m[-1] == pytest.approx(4)
    assert np.allclose(widths[vmap.z_edges_m[:-1] >= -4.0], 0.2)
    upstream = vmap.z_edges_m[vmap.z_edges_m <= -4.0]
    assert np.allclose(np.diff(np.log10(-upstream)), -1 / 8, rtol=0.1)
    i = np.searchsorted(vmap.z_edges_m, -150.0) - 1
    j = np.searchsorted(vmap.transverse_edges_m, 0.05) - 1
    assert vmap.weights[i, j] == 2.0 and vmap.weights.sum() == 2.0 and vmap.outside == 0.0
    with pytest.raises(InputError, match="'x' or 'y'"):
        vertices.histogram(events, "z")


def test_detector_boxes_match_the_geometry():
    nd280 = vertices.detector_boxes(load_geometry("nd280"))
    by_region = {}
    for box in nd280:
        by_region.setdefault(box.region, []).append(box)
    assert {r: len(b) for r, b in by_region.items()} == {
        "magnet": 1,
        "p0d": 1,
        "fgd": 2,
        "tpc_gas": 3,
    }
    (p0d,) = by_region["p0d"]
    # the ~100 P0D layers: lead plate at z = -0.877 m to the last layer at -3.162 m
    assert p0d.centre[2] - p0d.widths[2] / 2 == pytest.approx(-3.1815, abs=1e-3)
    assert p0d.centre[2] + p0d.widths[2] / 2 == pytest.approx(-0.875, abs=1e-3)
    upgrade = vertices.detector_boxes(load_geometry("nd280upgrade"))
    regions = [b.region for b in upgrade]
    assert "p0d" not in regions and regions.count("superfgd") == 1
    assert regions.count("tpc_gas") == 5  # 3 TPCs and 2 HA-TPCs


def test_fig2_plot_and_save(samples, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.collections import QuadMesh

    from t2khnl import config

    fig = vertices.plot(samples, demo="demo: 1 masses, 400 events per beam")
    paths = vertices.save(fig, tmp_path / "fig2")
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    _assert_written(paths)
    assert len(axes) == 4  # 2 detectors x (z-x, z-y), 1 mass
    assert all(ax.get_xscale() == "symlog" and "[m]" in ax.get_ylabel() for ax in axes)
    assert axes[-1].get_xlabel() == "z [m]"
    checks.assert_units(fig)
    with style.style():  # the fonts the files are drawn with
        checks.assert_clear(fig)
    for ax in axes:  # each panel names its mass and explains where the weight is
        (note,) = [t for t in ax.texts if "rock" in t.get_text()]
        assert note.get_visible() and "200 MeV" in note.get_text()
        assert "beyond axes" in note.get_text()
    (legend,) = fig.legends
    labels = {t.get_text() for t in legend.get_texts()}
    assert {"P0D", "FGD", "SuperFGD", "TPC gas", "fiducial volume"} <= labels
    caption = legend.get_title().get_text()  # the broken scale and the notes explained
    assert "linear within the dotted lines" in caption and "beyond axes:" in caption
    assert "per m$^2$" in caption
    # the colour is a density: times the bins' areas it sums to the expected decays
    pot = config.load("corrected").pot("nd280", "fhc")
    assert samples.exposure_pot["nd280"] == pot
    vmap = vertices.histogram(samples.events["nd280"][0][1], "x")
    (mesh,) = [c for c in axes[0].collections if isinstance(c, QuadMesh)]
    area = np.outer(np.diff(vmap.transverse_edges_m), np.diff(vmap.z_edges_m))
    shown = np.ma.filled(mesh.get_array(), 0.0).reshape(area.shape)
    assert (shown * area).sum() == pytest.approx(vmap.weights.sum() * pot, rel=1e-9)
    assert "demo: 1 masses" in style.statement(fig)
    plt.close(fig)


# ---------------------------------------------------------------------------- Fig. 3
def test_weighted_median_against_numpy():
    rng = np.random.default_rng(3)
    for n in (101, 100):  # odd and even: equal weights give np.median exactly
        x = rng.normal(size=n)
        assert weighted_median(x, np.full(n, 0.3)) == np.median(x)
    x = rng.normal(size=50)
    counts = rng.integers(0, 5, size=50)
    assert weighted_median(x, counts) == np.median(np.repeat(x, counts))
    values, weights = [1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]  # cumulative weight hits half at 2
    assert weighted_median(values, weights) == 2.5
    with pytest.raises(InputError):
        weighted_median([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(InputError):
        weighted_median([1.0, 2.0], [0.0, 0.0])


def test_weighted_median_of_a_known_distribution():
    # x uniform on [0, 1] weighted by x: density 2x, CDF x^2, median 1/sqrt(2)
    x = np.random.default_rng(11).random(200_000)
    assert weighted_median(x, x) == pytest.approx(1 / math.sqrt(2), rel=5e-3)
    assert weighted_median(x, np.ones_like(x)) == pytest.approx(0.5, rel=5e-3)


def test_median_decay_length_scales_as_inverse_d_squared():
    events = ak.Array(
        {
            "decay_length_m": [3.0, 1.0, 10.0, 2.0, 50.0],
            "upscatter_weight": [1e-20, 4e-20, 1e-20, 1e-20, 2e-20],
        }
    )
    d_ref = 1e-6
    grid = np.array([1e-8, 3e-7, 1e-6, 2e-5])
    medians = figure_data.median_decay_length_on_grid(events, d_ref, grid)
    # cumulative weight sorted by length: 4, 5, 6, 7, 9 (of 9): the median is 2.0 m
    assert medians[2] == 2.0
    assert np.allclose(medians * grid**2, 2.0 * d_ref**2, rtol=1e-14)
    assert medians[0] == pytest.approx(2.0e4)


def test_medians_from_scan(tmp_path):
    """The scan's per-mass results carry the median at d_ref; it scales as d^-2."""
    (tmp_path / "masses").mkdir()
    for mass, median in ((0.5, 2.0), (0.1, 6.0), (0.3, None)):
        result = {"mass_gev": mass, "summary": {
            "median_decay_length_m": {"d_gev_inv": 1e-6, "fhc": median, "rhc": None}}}
        (tmp_path / "masses" / f"m{mass:010.6f}.json").write_text(json.dumps(result))
    (tmp_path / "masses" / "m002.000000.json").write_text(json.dumps(
        {"mass_gev": 2.0, "status": "skipped", "summary": None}))
    masses, medians = figure_data.medians_from_scan(tmp_path, [1e-6, 2e-6])
    assert masses.tolist() == [0.1, 0.5]
    assert medians.tolist() == [[6.0, 1.5], [2.0, 0.5]]
    with pytest.raises(InputError, match="rhc median"):
        figure_data.medians_from_scan(tmp_path, [1e-6], beam="rhc")


def test_analytic_uses_the_preset_width():
    d = np.array([1e-7, 1e-6])
    corrected = figure_data.analytic_decay_length_m([MASS_GEV], d, preset="corrected")[0]
    published = figure_data.analytic_decay_length_m([MASS_GEV], d, preset="published")[0]
    # published: DarkNews's d^2 m^3/(8 pi) alone; corrected: d^2 m^3/(4 pi) (1 + BR(ee))
    ratio = 2.0 * (1.0 + model.br_ee(MASS_GEV))
    assert published / corrected == pytest.approx([ratio, ratio], rel=1e-12)
    assert corrected[0] / corrected[1] == pytest.approx(100.0)
    boost = figure_data.median_boost(MASS_GEV)
    # the T2K flux peaks at 0.6 GeV: the median HNL momentum lies between 0.3 and 3 GeV
    assert 0.3 < boost * MASS_GEV < 3.0
    assert corrected[1] == pytest.approx(boost * model.ctau_m(MASS_GEV, 1e-6), rel=1e-12)


def test_simulated_median_agrees_with_analytic():
    """The simulated median of beta gamma c tau is within 30% of the analytic one.

    The analytic boost uses one nucleus (O16) and ignores the geometric acceptance; the
    nuclei ND280 holds move it by up to +40% (Pb208 at 200 MeV), and a few hundred MC
    events with unequal weights leave ~10% statistical spread (seeds 1-3 give 0.83-1.00).
    """
    d = np.geomspace(1e-7, 1e-5, 3)
    simulated = figure_data.simulate_medians([MASS_GEV], d, n_events=400, seed=2)
    analytic = figure_data.analytic_decay_length_m([MASS_GEV], d)
    assert simulated.shape == (1, 3)
    assert np.allclose(simulated * d**2, simulated[0, 0] * d[0] ** 2, rtol=1e-12)
    assert np.all(np.abs(simulated / analytic - 1) < 0.3), simulated / analytic


def test_fig3_plot_and_save(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.collections import QuadMesh
    from matplotlib.colors import to_hex

    masses = np.array([0.05, 0.1, 0.2, 0.4])
    d = np.geomspace(1e-8, 1e-4, 9)
    median = 1.2 * figure_data.analytic_decay_length_m(masses, d)
    median[1, :] = np.nan  # a mass without events
    analytic = figure_data.analytic_map(d, mass_range_mev=MASS_RANGE_MEV, n_masses=6)
    assert analytic.median_m.shape == (6, 200)
    fig = decay_length.plot(figure_data.DecayLengthMap(masses, d, median), analytic)
    paths = decay_length.save(fig, tmp_path / "fig3")
    ax = fig.axes[0]
    _assert_written(paths)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    checks.assert_units(fig)
    with style.style():  # the fonts the files are drawn with
        checks.assert_clear(fig)
    (legend,) = fig.legends
    entries = " ".join(t.get_text() for t in legend.get_texts())
    assert "simulation" in entries and r"$\beta\gamma c\tau$" in entries
    assert "median of" in entries and r"\sigma_{\rm coh}" in entries  # the energy convention
    levels = {"0.1 m", "1 m", "10 m", "100 m", "1000 m"}
    for colour in ("#000000", decay_length._SIMULATION_COLOR):  # both sets labelled
        labels = {t.get_text() for t in ax.texts if to_hex(t.get_color()) == colour.lower()}
        assert labels >= levels - {"1000 m"}, (colour, labels)
    # coloured only between the scanned masses with events (50 and 400 MeV)
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    x = mesh.get_coordinates()[..., 0]
    assert x.min() == pytest.approx(50.0) and x.max() == pytest.approx(400.0)
    plt.close(fig)
    with pytest.raises(InputError, match="shape"):
        decay_length.plot(figure_data.DecayLengthMap(masses, d, median[:, :3]), analytic)
