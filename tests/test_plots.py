"""Fig. 4 (t2khnl.plots.constraints): drawing, MiniBooNE regions, CL conversion, envelope."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pytest.importorskip("mplhep")

import _figure_checks as checks  # noqa: E402

from t2khnl import constraints_data  # noqa: E402
from t2khnl.errors import DataFileError  # noqa: E402
from t2khnl.plots import constraints, style  # noqa: E402
from t2khnl.scanstore import read_contour  # noqa: E402


def _write_contour(path, masses_gev, low, high, err=True):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mass_gev", "d_low", "d_high", "d_low_err", "d_high_err"])
        for m, lo, hi in zip(masses_gev, low, high, strict=True):
            if lo is None:
                writer.writerow([m, "", "", "", ""])
            else:
                writer.writerow([m, lo, hi, 0.1 * lo if err else "", 0.1 * hi if err else ""])


@pytest.fixture
def synthetic_contours(tmp_path):
    m = np.geomspace(0.01, 2.0, 25)
    low = [3e-7 * (x / 0.2) ** -0.5 if x < 0.8 else None for x in m]
    high = [2e-5 * (x / 0.1) ** -1.0 for x in m]
    published = tmp_path / "published.csv"
    upgrade = tmp_path / "upgrade.csv"
    _write_contour(published, m, low, high)
    _write_contour(upgrade, m, [None if lo is None else lo / 3 for lo in low], high, err=False)
    return {"ND280 2019 (published)": published, "ND280 upgrade (corrected)": upgrade}


def test_plot_writes_pdf_and_png(tmp_path, synthetic_contours):
    import matplotlib.pyplot as plt

    rc_before = dict(matplotlib.rcParams)
    fig = constraints.plot(synthetic_contours)
    pdf, png = constraints.save(fig, tmp_path / "fig4")
    plt.close(fig)
    assert pdf.suffix == ".pdf" and png.suffix == ".png"
    assert pdf.stat().st_size > 1000 and png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # the mplhep style is scoped, not leaked into the global rcParams
    assert matplotlib.rcParams["font.family"] == rc_before["font.family"]
    assert matplotlib.rcParams["figure.figsize"] == rc_before["figure.figsize"]


def test_plot_axes_and_legend(synthetic_contours):
    import matplotlib.pyplot as plt

    fig = constraints.plot(synthetic_contours, existing_limits=False)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "MeV" in ax.get_xlabel() and "GeV" in ax.get_ylabel()
    (legend,) = fig.legends  # below the axes, not beside them
    labels = [t.get_text() for t in legend.get_texts()]
    assert "ND280 2019 (published)" in labels and "ND280 upgrade (corrected)" in labels
    assert any("MiniBooNE" in label for label in labels)
    assert legend.get_window_extent().y1 < ax.get_window_extent().y0
    plt.close(fig)


def _drawn_extent(ax, label):
    """Display-pixel width and height spanned by the artists of one contour."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    boxes = [a.get_window_extent(fig.canvas.get_renderer()) for a in ax.get_children()
             if a.get_gid() == f"contour:{label}" and a.get_visible()]
    if not boxes:
        return 0.0, 0.0
    box = Bbox.union(boxes)
    return box.width, box.height


def test_fig4_is_readable(synthetic_contours):
    """Axis labels with units; no text over a curve; every curve drawn; each existing limit
    in view named on the plot; the d range follows what is drawn."""
    import matplotlib.pyplot as plt

    fig = constraints.plot(synthetic_contours, demo="demo: 25 masses, 100 events per beam")
    ax = fig.axes[0]
    checks.assert_units(fig)
    with style.style():  # the fonts the files are drawn with
        checks.assert_clear(fig)
    for label in synthetic_contours:
        width, height = _drawn_extent(ax, label)
        assert width > 100 and height > 100, label
    limits = constraints_data.load_existing_limits()
    named = {t.get_gid() for t in ax.texts if t.get_visible()}
    for limit in limits:
        outline = [line for line in ax.lines if line.get_gid() == f"limit:{limit.name}"]
        if checks.curve_points(ax).size and outline and _in_view(ax, limit):
            assert f"limit-label:{limit.name}" in named, limit.name
    lowest = min(np.nanmin(read_contour(p).d_low) for p in synthetic_contours.values())
    bottom, _top = ax.get_ylim()
    assert lowest / 10 < bottom < lowest  # no empty decade below the lowest curve
    assert constraints.OURS_COLOR.upper() in {_hex(a) for a in ax.patches}
    assert style.statement(fig) == "demo: 25 masses, 100 events per beam"
    plt.close(fig)


def _hex(patch):
    from matplotlib.colors import to_hex

    return to_hex(patch.get_edgecolor()).upper()


def _in_view(ax, limit):
    lo, hi = ax.get_xlim()
    d_lo, d_hi = ax.get_ylim()
    inside = ((limit.mass_mev > lo) & (limit.mass_mev < hi) & (limit.d > d_lo)
              & (limit.d < d_hi))
    return np.count_nonzero(inside) >= 2


def test_a_mass_excluded_alone_is_drawn(tmp_path):
    """One excluded mass between masses excluding nothing (a coarse scan): a vertical bar,
    not an invisible zero-width band."""
    import matplotlib.pyplot as plt

    path = tmp_path / "contour.csv"
    _write_contour(path, [0.1, 0.2, 0.5], [None, 4e-7, None], [None, 3e-5, None])
    fig = constraints.plot({"T2K + T2K-II sensitivity": path}, existing_limits=False,
                           miniboone=False)
    _width, height = _drawn_extent(fig.axes[0], "T2K + T2K-II sensitivity")
    assert height > 100
    plt.close(fig)


def test_presets_side_by_side(synthetic_contours):
    """Two panels on shared axes, one per preset, each with its own contours."""
    import matplotlib.pyplot as plt

    fig = constraints.plot_presets({"published": synthetic_contours,
                                    "corrected": synthetic_contours}, existing_limits=False)
    left, right = (ax for ax in fig.axes if ax.get_visible())
    assert left.get_shared_y_axes().joined(left, right)
    assert left.get_ylim() == right.get_ylim() and left.get_xlim() == right.get_xlim()
    for ax, name in ((left, "published preset"), (right, "corrected preset")):
        (title,) = [t for t in ax.texts if t.get_gid() == "panel-title"]
        assert title.get_text() == name and title.get_visible()
    for ax in (left, right):
        for label in synthetic_contours:
            assert min(_drawn_extent(ax, label)) > 50
    checks.assert_units(fig)
    with style.style():  # the fonts the files are drawn with
        checks.assert_clear(fig)
    plt.close(fig)


def test_load_contour_empty_fields(synthetic_contours):
    contour = read_contour(synthetic_contours["ND280 2019 (published)"])
    assert contour.mass_mev[0] == pytest.approx(10.0)
    assert np.isnan(contour.d_low[-1]) and np.isfinite(contour.d_low[0])


def test_miniboone_regions_in_range():
    regions = constraints_data.miniboone_regions()
    assert len(regions) == 2
    polys = [p for polys in regions.values() for p in polys]
    assert len(polys) == 3
    for poly in polys:
        assert poly.shape[1] == 2 and len(poly) >= 4
        assert np.all(poly > 0)
        assert np.all((poly[:, 0] >= 10) & (poly[:, 0] <= 1200))  # MeV
        assert np.all((poly[:, 1] >= 1e-7) & (poly[:, 1] <= 1e-5))  # GeV^-1
    # the "MiniBooNE solution" (overlap) lies around 500-710 MeV, 1.2e-6 to 3e-6 GeV^-1
    cos_theta = regions[r"MiniBooNE $\cos\theta$ 95% CL"][0]
    assert 100 < np.median(cos_theta[:, 0]) < 1000
    assert 1e-7 < np.median(cos_theta[:, 1]) < 1e-5


def test_cl_factor_zero_background():
    expected = math.sqrt(-math.log(0.05) / -math.log(0.10))
    assert constraints_data.cl_factor(0.90, 0.95, power=2) == pytest.approx(expected)
    assert expected == pytest.approx(math.sqrt(2.996 / 2.303), rel=1e-3)
    assert expected == pytest.approx(1.1406, abs=1e-4)
    assert constraints_data.cl_factor(0.90, 0.95, power=4) == pytest.approx(expected**0.5)
    assert constraints_data.cl_factor(0.95, 0.95, power=2, stat="chi2") == pytest.approx(1.0)


def test_limits_config_is_complete():
    config = constraints_data.limits_config()
    assert config.base and config.target_cl == 0.95 and config.limits
    for spec in config.limits.values():
        assert spec.mass_unit in ("MeV", "GeV")
        assert spec.stat in ("poisson0", "chi2")
        assert spec.power in (2, 4)
        assert spec.shape in ("polygon", "lower_curve")
        assert spec.d_factor > 0 and 0 < spec.cl < 1
        assert set(spec.not_boundary) <= set(spec.files) and spec.label and spec.note


def test_envelope_below_each_limit():
    limits = constraints_data.load_existing_limits()
    if not limits:
        pytest.skip("hnlimits not installed")
    masses = np.geomspace(1.0, 2000.0, 200)
    env = constraints_data.envelope(masses, limits)
    assert np.any(np.isfinite(env))
    for limit in limits:
        own = constraints_data.lower_boundary(limit, masses)
        defined = np.isfinite(own)
        assert np.all(env[defined] <= own[defined] * (1 + 1e-12)), limit.name
    assert isinstance(constraints_data.envelope(300.0, limits), float)


def test_lower_boundary_of_a_square():
    square = constraints_data.Limit(
        name="sq",
        label="sq",
        mass_mev=np.array([10.0, 100.0, 100.0, 10.0]),
        d=np.array([1e-7, 1e-7, 1e-5, 1e-5]),
        shape="polygon",
        color="k",
        factor=1.0,
        source=(),
    )
    got = constraints_data.lower_boundary(square, [5.0, 30.0, 1000.0])
    assert np.isnan(got[0]) and np.isnan(got[2])
    assert got[1] == pytest.approx(1e-7)


def test_missing_hnlimits_is_a_warning(monkeypatch, caplog):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "HNLimits":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with caplog.at_level("WARNING"):
        assert constraints_data.load_existing_limits() == []
    assert "hnlimits" in caplog.text


def test_holes_between_excluded_intervals_are_not_filled(tmp_path):
    """Two masses whose exclusion has a hole (the rock branch below, the gas above, as near
    the bedrock turnover): the hole stays empty in the drawing, the band around it is filled."""
    import json

    import matplotlib.pyplot as plt

    masses = [0.15, 0.18, 0.21, 0.24, 0.27]
    low, high = [1e-6] * 5, [1e-3] * 5
    path = tmp_path / "contour.csv"
    _write_contour(path, masses, low, high, err=False)
    holes = {0.18: [[1e-6, 3e-6], [3e-5, 1e-3]], 0.21: [[1e-6, 2e-6], [5e-5, 1e-3]]}
    records = [{"mass_gev": m, "intervals": holes.get(m, [[1e-6, 1e-3]])} for m in masses]
    path.with_suffix(".json").write_text(json.dumps({"records": records}))
    contour = read_contour(path)
    assert contour.holes == ((1, 3e-6, 3e-5), (2, 2e-6, 5e-5))

    fig, ax = constraints.log_log_axes(None, figsize=(6, 6))
    _, drawn = constraints._draw_contour(ax, "x (corrected)", contour, False, 1e-3)
    assert len(drawn) == 1 and drawn[0].mass_mev.tolist() == [180.0, 210.0]
    ax.set_xlim(140, 280)
    ax.set_ylim(1e-7, 1e-2)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())

    def colour(m_mev, d):
        x, y = ax.transData.transform((m_mev, d))
        return pixels[round(pixels.shape[0] - y), round(x), :3]

    white = np.array([255, 255, 255])
    assert np.array_equal(colour(195.0, 1e-5), white)  # inside the hole
    assert not np.array_equal(colour(195.0, 3e-4), white)  # the gas-fed part above it
    assert not np.array_equal(colour(165.0, 2e-6), white)  # below the lens closing at 150
    assert not np.array_equal(colour(255.0, 1e-5), white)  # nor at 270 MeV
    plt.close(fig)
    path.with_suffix(".json").write_text("[]")
    with pytest.raises(DataFileError, match=r"not a contour\.json"):
        read_contour(path)


def test_holes_of_a_panel_share_one_note_with_a_leader_to_each():
    """Two contours with a hole each (ND280 2019 and the upgrade near the turnover): one
    note, visible once, and one leader line ending at each hole."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Annotation

    from t2khnl.plots.layout import FreeSpace

    fig, ax = constraints.log_log_axes(None, figsize=(6, 6))
    ax.set_xlim(10, 2000)
    ax.set_ylim(1e-7, 1e-3)
    fig.canvas.draw()
    holes = [constraints._Hole(np.array([210.0, 235.0]), np.array([5e-6, 5e-6]),
                               np.array([2e-5, 2e-5])),
             constraints._Hole(np.array([263.0]), np.array([3.8e-6]), np.array([7.9e-6]))]
    constraints._annotate_holes(ax, FreeSpace(ax), holes)
    notes = [c for c in ax.get_children() if isinstance(c, Annotation)]
    visible = [n for n in notes if n.get_text() and n.get_color() != "none"]
    assert len(notes) == 2 and len(visible) == 1
    assert visible[0].get_gid() == "hole-note"
    ends = sorted(n.xy for n in notes)
    centres = sorted((math.exp(np.mean(np.log(h.mass_mev))),
                      math.exp(np.mean(0.5 * np.log(h.d_low * h.d_high)))) for h in holes)
    np.testing.assert_allclose(ends, centres, rtol=1e-9)
    plt.close(fig)
