"""Closure of the generator (SIREN injection + exact decays) against analytic integrals.

Toy world: a dense C12 slab ("rock", 0.5 m thick, 2 g/cm^3), a 2.25 m vacuum gap and a C12
gas layer (1 m, 2e-3 g/cm^3) holding a 2 x 2 x 0.5 m fiducial box; both media are uniform
across the beam. With forward HNLs (coherent upscattering: angles ~ Q/E, energy loss
~ Q^2/2M, both negligible here) the expected decays in the box are

    N = A_box * n * int dE Phi(E) sigma(E) int dz P(z; L(E)),
    P(z; L) = exp(-max(z_front - z, 0)/L) - exp(-(z_back - z)/L),

with the z integral done in closed form over the injected segment.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from t2khnl import events as engine
from t2khnl import generate, model, siren_tables, xsec, xsec_cache
from t2khnl.errors import InputError
from t2khnl.flux import load_beam_flux
from t2khnl.geometry import REGIONS

siren = pytest.importorskip("siren")

MASS_GEV = 0.2
C12 = 1000060120
AVOGADRO = 6.02214076e23
SLAB = (-3.25, -2.75, 2.0)  # z_min, z_max [m], density [g/cm^3]
GAS = (-0.5, 0.5, 2.0e-3)
BOX = SimpleNamespace(name="box", centre=np.array([0.0, 0.0, 0.0]),
                      widths=np.array([2.0, 2.0, 0.5]))
MATERIALS = "VOIDN 1\n1000070140 1.0\nCARBON 1\n1000060120 1.0\n"
DENSITIES = f"""\
object box 0 0 0      0 0 0   60 60 60    world  VOIDN  constant 1e-12
object box 0 0 -3.0   0 0 0   50 50 0.5   slab   CARBON constant {SLAB[2]}
object box 0 0 0      0 0 0   50 50 1.0   gas    CARBON constant {GAS[2]}
detector 0 0 0
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    (folder / "materials.dat").write_text(MATERIALS)
    (folder / "densities.dat").write_text(DENSITIES)
    detector = siren.detector.DetectorModel()
    detector.LoadMaterialModel(str(folder / "materials.dat"))
    detector.LoadDetectorModel(str(folder / "densities.dat"))
    tables = xsec.build_tables(MASS_GEV, [C12], channels=("coherent",))
    flux = load_beam_flux("fhc")
    return SimpleNamespace(detector=detector, table=tables[(C12, "coherent")], tables=tables,
                           flux=flux)


def _setup(toy, d_gev_inv):
    return generate.Setup(
        detector_model=toy.detector,
        boxes=(BOX,),
        processes=siren_tables.siren_cross_sections(toy.tables, d_gev_inv),
        flux=(toy.flux.energy_centers_gev, toy.flux.flux),
        primary_pdg=14,
        region_of=lambda names: np.where(np.asarray(names) == "slab", "rock", "tpc_gas"),
        tables=toy.tables,
        aim_regions=frozenset({"rock", "tpc_gas"}),
    )


def _layer_integral(z_lo, z_hi, length, front, back):
    """int_{z_lo}^{z_hi} P(z; L) dz [m] for a layer (vectorised over L)."""
    span = back - front
    up_hi = min(z_hi, front)
    upstream = np.where(
        up_hi > z_lo,
        length * (np.exp(-(front - up_hi) / length) - np.exp(-(front - z_lo) / length)),
        0.0,
    ) * -np.expm1(-span / length)
    in_lo, in_hi = max(z_lo, front), min(z_hi, back)
    inside = 0.0
    if in_hi > in_lo:
        inside = (in_hi - in_lo) - length * (
            np.exp(-(back - in_hi) / length) - np.exp(-(back - in_lo) / length)
        )
    return upstream + inside


def _analytic_decays_per_pot(toy, d_gev_inv, z_start):
    front, back = BOX.centre[2] - 0.25, BOX.centre[2] + 0.25
    energy = np.linspace(toy.table.threshold_gev, toy.flux.energy_centers_gev[-1], 200_001)
    flux = np.interp(energy, toy.flux.energy_centers_gev, toy.flux.flux)
    sigma_m2 = toy.table.total(energy, d_gev_inv) * 1e-4
    momentum = np.sqrt(np.maximum(energy**2 - MASS_GEV**2, 1e-30))
    length = model.decay_length_m(MASS_GEV, d_gev_inv, momentum)
    per_e = 0.0
    for z_lo, z_hi, rho in (SLAB, GAS):
        z_lo = max(z_lo, z_start)
        if z_hi <= z_lo:
            continue
        n_per_m3 = rho * 1e6 * AVOGADRO / 12.0
        per_e = per_e + n_per_m3 * _layer_integral(z_lo, z_hi, length, front, back)
    area = BOX.widths[0] * BOX.widths[1]
    return area * np.trapz(flux * sigma_m2 * per_e, energy)


def _d_for_length(length_m, momentum_gev=1.0):
    """Coupling [GeV^-1] giving lab decay length ``length_m`` at ``momentum_gev``."""
    at_unit = model.decay_length_m(MASS_GEV, 1.0, momentum_gev)
    return math.sqrt(at_unit / length_m)


@pytest.mark.parametrize("ratio", [0.01, 1.0, 100.0])
def test_decays_in_box_close_with_analytic_integral(toy, ratio):
    d = _d_for_length(ratio * BOX.widths[2])
    upstream = min(5 * ratio * BOX.widths[2] * 4, 3.2)
    events = generate.generate_events(
        _setup(toy, d), MASS_GEV, d, n_events=30_000, seed=7, width_convention="corrected",
        survival=True, upstream_m=upstream, radius_margin_m=0.0,
    )
    weight = np.asarray(events["weight"])
    simulated = weight.sum()
    error = math.sqrt((weight**2).sum())
    expected = _analytic_decays_per_pot(toy, d, BOX.centre[2] - 0.25 - upstream)
    assert abs(simulated - expected) < 4 * error
    assert error / simulated < 0.06  # 30k events: 0.5-4% MC error
    # efficient: most injected events decay in the box with a weight
    assert len(weight) > 0.5 * 30_000
    dec_z = np.asarray(events["dec_z"])
    assert np.all(np.abs(dec_z - BOX.centre[2]) <= 0.25 + 1e-9)
    _check_record_branches(events)


def _check_record_branches(events):
    """The branches an event record needs (t2khnl.export): PDG codes, neutrino direction,
    target mass and the decay neutrino, which closes the decay's four-momentum."""
    assert np.all(np.asarray(events["nu_pdg"]) == 14)
    assert np.all(np.asarray(events["hnl_pdg"]) == 5914)
    direction = np.column_stack([np.asarray(events[f"nu_d{a}"]) for a in "xyz"])
    assert np.array_equal(direction, np.tile([0.0, 0.0, 1.0], (len(direction), 1)))
    assert np.asarray(events["target_mass_gev"]) == pytest.approx(12 * 0.93149410242, rel=1e-6)

    def p4(prefix):
        return np.column_stack([np.asarray(events[f"{prefix}_{c}"]) for c in ("e", "px", "py",
                                                                              "pz")])

    total = p4("dnu") + p4("ep") + p4("em")
    assert np.abs(total - p4("hnl")).max() < 1e-12 * np.asarray(events["hnl_e"]).max()
    assert np.abs(p4("dnu")[:, 0] - np.linalg.norm(p4("dnu")[:, 1:], axis=1)).max() < 1e-12


def test_any_allocation_over_strata_is_unbiased(toy):
    """Half the attempts in the farthest layer, the rest spread thin: the same analytic
    count, each stratum normalised by its own attempts."""
    d = _d_for_length(1.0 * BOX.widths[2])
    upstream = 3.2
    n_layers = len(generate._strata_m(upstream))
    shares = np.full((1, n_layers), 0.5 / (n_layers - 1))
    shares[0, -1] = 0.5
    events = generate.generate_events(
        _setup(toy, d), MASS_GEV, d, n_events=30_000, seed=8, width_convention="corrected",
        survival=True, upstream_m=upstream, radius_margin_m=0.0, allocation=shares,
    )
    weight = np.asarray(events["weight"])
    expected = _analytic_decays_per_pot(toy, d, BOX.centre[2] - 0.25 - upstream)
    assert abs(weight.sum() - expected) < 4 * math.sqrt((weight**2).sum())
    layers = np.asarray(events["layer"])
    assert set(np.unique(layers)) <= set(range(n_layers))
    assert np.sum(layers == n_layers - 1) > 0.3 * len(layers)  # where half the attempts went


def test_strata_attempts():
    upstream = 300.0  # layers: box, 0-5 cm, then decades to 300 m: 6
    n_layers = len(generate._strata_m(upstream))
    assert n_layers == 6
    equal = generate.strata_attempts(1000, 3, upstream)
    assert equal == [engine._split(n, n_layers) for n in engine._split(1000, 3)]
    shares = np.zeros((3, n_layers))
    shares[1, 4] = 3.0
    shares[2, 0] = 1.0
    skewed = np.array(generate.strata_attempts(1000, 3, upstream, shares))
    assert skewed.sum() == 1000 and skewed.min() == 1  # every stratum keeps an attempt
    assert skewed[1, 4] == 1 + round(0.75 * (1000 - 18))
    assert skewed[2, 0] == 1 + round(0.25 * (1000 - 18))
    for bad in (np.ones((2, n_layers)), -shares, np.zeros((3, n_layers)),
                np.full((3, n_layers), np.nan)):
        with pytest.raises(InputError, match="allocation"):
            generate.strata_attempts(1000, 3, upstream, bad)
    with pytest.raises(InputError, match="strata"):
        generate.strata_attempts(10, 3, upstream)


def test_median_decay_length_matches_analytic(toy):
    """Free decays from a thin layer: weighted median flight distance vs the flux x sigma
    averaged decay law of the model's width. 20,000 attempts leave ~10^4 decays from the
    slab (the injection disk circumscribes the slab's square face: other lines miss)."""
    d = _d_for_length(0.3)
    # a box from just upstream of the slab to the end of the world, 32 m (> 20 decay
    # lengths at the flux's 99% quantile) downstream: decays are free
    long_box = SimpleNamespace(name="all", centre=np.array([0.0, 0.0, 12.85]),
                               widths=np.array([50.0, 50.0, 32.3]))
    # not aimed: every vertex stays inside the box (the slab is as wide as the box)
    setup = _setup(toy, d)._replace(boxes=(long_box,), aim_regions=frozenset())
    events = generate.generate_events(
        setup, MASS_GEV, d, n_events=20_000, seed=3, width_convention="corrected",
        survival=True, upstream_m=0.0, radius_margin_m=0.0,
    )
    slab = np.asarray(events["region_id"]) == REGIONS.index("rock")
    flight = np.sqrt(sum((np.asarray(events[f"dec_{a}"]) - np.asarray(events[f"vtx_{a}"])) ** 2
                         for a in "xyz"))[slab]
    weight = np.asarray(events["upscatter_weight"])[slab]
    order = np.argsort(flight)
    cdf = np.cumsum(weight[order]) / weight.sum()
    simulated = flight[order][np.searchsorted(cdf, 0.5)]

    energy = np.linspace(toy.table.threshold_gev, 29.5, 100_001)
    spectrum = np.interp(energy, toy.flux.energy_centers_gev, toy.flux.flux) * toy.table.total(
        energy, d)
    length = model.decay_length_m(MASS_GEV, d, np.sqrt(energy**2 - MASS_GEV**2))
    grid = np.geomspace(1e-3, 1e3, 4001)
    decayed = np.array([np.trapz(spectrum * -np.expm1(-x / length), energy) for x in grid])
    analytic = np.interp(0.5 * np.trapz(spectrum, energy), decayed, grid)
    assert simulated == pytest.approx(analytic, rel=0.03)


@pytest.mark.parametrize("factor", [3.0, 1.0 / 3.0])
def test_reweighted_yield_matches_direct_simulation(toy, factor):
    """One sample at d0 reweighted to 3 d0 and d0 / 3 vs independent samples there."""
    from t2khnl import reweight

    d0 = _d_for_length(0.1)
    d = factor * d0

    def run(coupling, seed):
        return generate.generate_events(
            _setup(toy, coupling), MASS_GEV, coupling, n_events=80_000, seed=seed,
            width_convention="corrected", survival=True, upstream_m=3.2, radius_margin_m=0.0,
        )

    reference = run(d0, 21)
    reweighted = reweight.reweight(reference, d, d_ref_gev_inv=d0)
    direct = np.asarray(run(d, 22)["weight"])
    total_rw, total_direct = reweighted.sum(), direct.sum()
    sigma = math.hypot(math.sqrt((reweighted**2).sum()), math.sqrt((direct**2).sum()))
    assert abs(total_rw - total_direct) < 3 * sigma
    assert abs(total_rw / total_direct - 1) < 0.05
    assert reweight.kish_n_eff(reweighted) > 1000


def test_cross_section_cache_builds_each_target_once(monkeypatch):
    """Objects are kept per target for one (mass, channels, d): a second detector whose
    nuclei the first had builds nothing; another model point starts afresh."""
    built = []

    def fake_tables(mass_gev, targets, channels):
        return {(t, c): SimpleNamespace(mass=mass_gev) for t in targets for c in channels}

    def fake_objects(tables, d_gev_inv):
        built.extend(sorted({pdg for pdg, _ in tables}))
        return [f"object {pdg}" for pdg in sorted({pdg for pdg, _ in tables})]

    monkeypatch.setattr(xsec_cache, "cached_tables", fake_tables)
    monkeypatch.setattr(siren_tables, "siren_cross_sections", fake_objects)
    cache = generate._CrossSectionCache()
    tables, objects = cache.get(0.3, [1, 2, 3], ("coherent",), 1e-6)
    assert objects == ["object 1", "object 2", "object 3"] and len(tables) == 3
    assert cache.get(0.3, [1, 3], ("coherent",), 1e-6)[1] == ["object 1", "object 3"]
    assert built == [1, 2, 3]
    cache.get(0.3, [3, 4], ("coherent",), 1e-6)
    assert built == [1, 2, 3, 4]
    cache.get(0.3, [1], ("coherent", "p-el"), 1e-6)
    assert built == [1, 2, 3, 4, 1]


class _Recording:
    """A preset that records which fields are read."""

    def __init__(self, preset, read):
        self._preset, self._read = preset, read

    def __getattr__(self, key):
        self._read.add(key)
        return getattr(self._preset, key)


@pytest.fixture
def walk_presets():
    """The walk's step presets (steps 4 and 5 differ only in the BR formula)."""
    from t2khnl import compare

    return [step.preset for step in compare.steps()]


def test_simulation_reads_only_its_keys(monkeypatch):
    """The events depend on SIMULATION_KEYS (and the RHC primary) alone, which is what lets
    simulate() reuse them for presets that differ elsewhere."""
    read = set()
    real = generate._sample

    def recording(*args, preset, **kwargs):
        return real(*args, preset=_Recording(preset, read), **kwargs)

    monkeypatch.setattr(generate, "_sample", recording)
    generate.simulate("upgrade", "fhc", 0.3, 1e-6, n_events=300, seed=5, preset="published")
    assert read and read <= set(generate.SIMULATION_KEYS)


@pytest.fixture
def simulated_seeds(monkeypatch):
    """The seeds of every SIREN event generation :func:`t2khnl.generate.simulate` runs."""
    calls = []
    real = generate.generate_events

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, "generate_events", counting)
    return calls


def test_simulate_reuses_a_sample_across_analysis_only_changes(simulated_seeds, walk_presets):
    calls = simulated_seeds
    cache = generate.SimulationCache()
    args = ("upgrade", "rhc", 0.3, 1e-6)
    first = generate.simulate(*args, n_events=300, seed=5, preset=walk_presets[4], cache=cache)
    again = generate.simulate(*args, n_events=300, seed=5, preset=walk_presets[5], cache=cache)
    assert len(calls) == 1
    assert again.events is first.events
    assert again.metadata["preset"] != first.metadata["preset"]
    generate.simulate(*args, n_events=300, seed=6, preset=walk_presets[5], cache=cache)
    generate.simulate(*args, n_events=300, seed=5, preset=walk_presets[8],  # nu_mu-bar
                      cache=cache)
    assert len(calls) == 3


def test_simulate_without_a_cache_simulates_every_time(simulated_seeds):
    """No module-level cache: a repeated call simulates again (same seed, same events)."""
    calls = simulated_seeds
    args = ("upgrade", "fhc", 0.3, 1e-6)
    first = generate.simulate(*args, n_events=300, seed=5, preset="published")
    again = generate.simulate(*args, n_events=300, seed=5, preset="published")
    assert len(calls) == 2 and again.events is not first.events
    np.testing.assert_array_equal(np.asarray(again.events["weight"]),
                                  np.asarray(first.events["weight"]))


def test_windowed_sample_reweights_down_to_d_min(toy):
    """Without survival (``published``), a vertex counts only within 3 decay lengths of the
    box. A sample generated at d0 and reweighted to d0 / 10 (decay lengths 100x longer)
    must keep the vertices 3 L(d0)-3 L(d0/10) upstream, which decay at d0 / 10 only:
    reweighted with ``d_min_gev_inv`` it equals a direct simulation at d0 / 10; without it
    (the sample tied to d0's window) it misses the slab's decays."""
    from t2khnl import reweight

    d0 = _d_for_length(0.05)  # 5 cm at 1 GeV: the slab, 2.5-3 m upstream, is out of 3 L
    d = d0 / 10

    def run(coupling, seed, d_min=None):
        return generate.generate_events(
            _setup(toy, coupling), MASS_GEV, coupling, n_events=40_000, seed=seed,
            width_convention="corrected", survival=False, window_lengths=3.0,
            upstream_m=3.2, radius_margin_m=0.0, d_min_gev_inv=d_min,
        )

    direct = np.asarray(run(d, 32)["weight"])
    kept = run(d0, 31, d_min=d)
    reweighted = reweight.reweight(kept, d, d_ref_gev_inv=d0, survival=False, window_lengths=3.0)
    sigma = math.hypot(math.sqrt((reweighted**2).sum()), math.sqrt((direct**2).sum()))
    assert abs(reweighted.sum() - direct.sum()) < 3 * sigma
    assert abs(reweighted.sum() / direct.sum() - 1) < 0.05
    # the events added for d_min carry no weight at d0: the d0 yield is unchanged
    at_d0 = np.asarray(run(d0, 31)["weight"])
    assert np.asarray(kept["weight"]).sum() == pytest.approx(at_d0.sum(), rel=1e-12)
    assert np.all(np.isfinite(np.asarray(kept["dec_z"])))
    tied = reweight.reweight(run(d0, 31), d, d_ref_gev_inv=d0, survival=False,
                             window_lengths=3.0)
    assert tied.sum() < 0.5 * direct.sum()  # what the d0-tied sample gave


def test_simulate_keeps_events_for_the_scans_smallest_coupling(monkeypatch):
    """simulate() hands the smallest coupling of the scan to the generator's keep rule."""
    seen = {}

    def fake(setup, mass_gev, d_gev_inv, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop")

    monkeypatch.setattr(generate, "generate_events", fake)
    with pytest.raises(RuntimeError, match="stop"):
        generate.simulate("nd280", "fhc", 0.1, 1e-6, n_events=300, seed=5, preset="published",
                          d_min_gev_inv=1e-8)
    assert seen["d_min_gev_inv"] == 1e-8


def test_gas_region_yield_is_the_volume_ratio(toy):
    """Long-lived limit (L = 2 km, 4000x the box depth): an HNL line crossing a box decays
    there with probability depth / L, so with a beam and media uniform across both boxes
    the yields go as the boxes' volumes. The TPC gas box (2.47 x 2.47 x 0.97 m) against
    the fiducial box (1.70 x 1.96 x 0.563 m), as the tpc_gas and fiducial decay regions."""
    fiducial = SimpleNamespace(name="TPC", centre=np.zeros(3), widths=np.array([1.70, 1.96, 0.563]))
    gas = SimpleNamespace(name="TPC", centre=np.zeros(3), widths=np.array([2.47, 2.47, 0.97]))
    d = _d_for_length(2000.0)
    yields = []
    for seed, box in ((41, fiducial), (42, gas)):
        events = generate.generate_events(
            _setup(toy, d)._replace(boxes=(box,)), MASS_GEV, d, n_events=20_000, seed=seed,
            width_convention="corrected", survival=True, upstream_m=3.2, radius_margin_m=0.0)
        weight = np.asarray(events["weight"])
        yields.append((weight.sum(), math.sqrt((weight**2).sum())))
    ratio = yields[1][0] / yields[0][0]
    error = ratio * math.hypot(yields[0][1] / yields[0][0], yields[1][1] / yields[1][0])
    volumes = np.prod(gas.widths) / np.prod(fiducial.widths)  # 3.15
    assert abs(ratio - volumes) < 3 * error
    assert ratio == pytest.approx(volumes, rel=0.03)


def test_simulate_counts_decays_in_the_presets_decay_region(monkeypatch):
    """published generates in SIREN's TPC gas boxes, corrected in the fiducial boxes; the
    ntuple metadata lists the boxes used (the selection's containment check reads them)."""
    from t2khnl.geometry import load

    seen = []

    def fake(setup, mass_gev, d_gev_inv, **kwargs):
        seen.append(setup.boxes)
        raise RuntimeError("stop")

    monkeypatch.setattr(generate, "generate_events", fake)
    for preset in ("published", "corrected"):
        with pytest.raises(RuntimeError, match="stop"):
            generate.simulate("upgrade", "fhc", 0.1, 1e-6, n_events=300, seed=5, preset=preset)
    def values(boxes):  # geometry.load makes new boxes each call: compare their values
        return [(b.name, b.centre.tolist(), b.widths.tolist()) for b in boxes]

    gas = load("nd280upgrade", "published").decay_boxes("tpc_gas")
    assert values(seen[0]) == values(gas) and len(gas) == 5
    assert values(seen[1]) == values(load("nd280upgrade", "corrected").fiducial)
    assert [np.prod(b.widths) for b in seen[0][3:]] == pytest.approx([1.70 * 0.70 * 2.0] * 2)
