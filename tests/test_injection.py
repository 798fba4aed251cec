"""Tests of t2khnl.injection: SIREN upscattering injection and its per-POT normalisation.

The toy geometry (SIREN densities/materials files written per test session):

* world: 20 x 20 x 40 m of N14 at 1e-9 g/cm^3, with no cross-section table, so lines that
  miss the slab and the gas box fail (SIREN returns an empty event);
* slab: 4 x 4 x 0.5 m at z = -1 m, 2.7 g/cm^3, 70% C12 + 30% O16 by mass;
* gas box: 4 x 4 x 1 m at z = 2 m, 2.7e-3 g/cm^3 of C12.

The cross section is sigma_T(E) = SIGMA0 * Z^2 above threshold, flat in z, so the expected
number of upscatters per POT in a volume V is analytic:
N = sum_T n_T sigma_T V int_{E_thr,T} Phi(E) dE, with n_T = rho w_T N_A / A_T.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _toy_tables import dipole_from_arrays

from t2khnl.errors import InputError
from t2khnl.injection import UpscatterSample, inject_upscatters

siren = pytest.importorskip("siren")

AVOGADRO = 6.02214076e23
SIGMA0_CM2 = 1e-40  # per Z^2
M4_GEV = 0.47
C12, O16 = 1000060120, 1000080160
SLAB = {
    "z": -1.0,
    "dz": 0.5,
    "half": 2.0,
    "rho": 2.7,
    "comp": [(C12, 6, 12, 0.7), (O16, 8, 16, 0.3)],
}
GAS = {"z": 2.0, "dz": 1.0, "half": 2.0, "rho": 2.7e-3, "comp": [(C12, 6, 12, 1.0)]}

MATERIALS = """\
# toy materials for t2khnl tests
VOIDN 1
1000070140 1.0
SLAB 2
1000060120 0.7
1000080160 0.3
GASC 1
1000060120 1.0
"""
DENSITIES = """\
# toy detector for t2khnl tests
object box 0 0 0   0 0 0   20 20 40   world   VOIDN constant 1e-9
object box 0 0 -1  0 0 0   4 4 0.5    slab    SLAB  constant 2.7
object box 0 0 2   0 0 0   4 4 1.0    gasbox  GASC  constant 0.0027
detector 0 0 0
"""


def _flux() -> tuple[np.ndarray, np.ndarray]:
    """A smooth T2K-like nu_mu spectrum [GeV], [nu / m^2 / GeV / POT]."""
    energy = np.linspace(0.0, 10.0, 201)
    return energy, 2e-5 * energy * np.exp(-energy / 0.7)


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("toy")
    (folder / "materials.dat").write_text(MATERIALS)
    (folder / "densities.dat").write_text(DENSITIES)
    model = siren.detector.DetectorModel()
    model.LoadMaterialModel(str(folder / "materials.dat"))
    model.LoadDetectorModel(str(folder / "densities.dat"))
    return model


def _tables(e_max_gev: float = 100.0, power: int = 0) -> tuple[dict[int, Any], dict[int, Any]]:
    """Toy tables sigma_T(E) = SIGMA0 Z^2 (E / GeV)^power [cm^2], flat in z."""
    energy = np.linspace(0.0, e_max_gev, 201)
    z = np.linspace(0.0, 1.0, 11)
    total, differential = {}, {}
    for pdg, charge in ((C12, 6), (O16, 8)):
        sigma = SIGMA0_CM2 * charge**2 * energy**power
        total[pdg] = (energy, sigma)
        differential[pdg] = (energy, z, np.repeat(sigma[:, None], z.size, axis=1))
    return total, differential


@pytest.fixture(scope="module")
def dipole(tmp_path_factory: pytest.TempPathFactory) -> Any:
    total, differential = _tables()
    channel = siren.interactions.HNLDipoleFromTable.HelicityChannel.Conserving
    folder = tmp_path_factory.mktemp("xs")
    if "." in str(folder.resolve()):
        folder = None  # SIREN's file-name parser cannot take a '.'; use a fresh temp dir
    return dipole_from_arrays(M4_GEV, 1.0, channel, total, differential, table_dir=folder)


def _expected_per_pot(model: Any, box: dict[str, Any], area_m2: float, length_m: float,
                      power: int = 0) -> float:
    """Analytic upscatters per POT in (area x length) of a box [1/POT] (toy tables with
    sigma ~ E^power, interpolated linearly between their nodes as SIREN does)."""
    energy, flux = _flux()
    table_energy, _ = _tables(power=power)[0][C12]
    per_m = 0.0
    for pdg, charge, mass_number, fraction in box["comp"]:
        target_mass = model.GetTargetMass(siren.dataclasses.ParticleType(pdg))
        threshold = M4_GEV + M4_GEV**2 / (2.0 * target_mass)
        grid = np.linspace(threshold, energy[-1], 200_001)
        shape = np.interp(grid, table_energy, table_energy**power)
        rate = np.trapz(np.interp(grid, energy, flux) * shape, grid)  # nu / m^2 / POT
        n_per_cm3 = box["rho"] * fraction * AVOGADRO / mass_number
        per_m += 100.0 * n_per_cm3 * SIGMA0_CM2 * charge**2 * rate
    return per_m * area_m2 * length_m


def _in_box(vertex: np.ndarray, box: dict[str, Any]) -> np.ndarray:
    return (
        (np.abs(vertex[:, 2] - box["z"]) < 0.5 * box["dz"])
        & (np.abs(vertex[:, 0]) < box["half"])
        & (np.abs(vertex[:, 1]) < box["half"])
    )


@pytest.fixture(scope="module")
def sample(toy_model: Any, dipole: Any) -> UpscatterSample:
    return inject_upscatters(
        toy_model,
        [dipole],
        _flux(),
        segment_start_m=-3.0,
        segment_end_m=5.0,
        radius_m=3.0,
        n_events=20_000,
        seed=11,
    )


def test_slab_normalisation_closure(toy_model: Any, sample: UpscatterSample) -> None:
    # The disk (r = 3 m) covers the whole 4 x 4 m face of the slab.
    in_slab = _in_box(sample.vertex_m, SLAB)
    weights = sample.weight_per_pot[in_slab]
    total, error = weights.sum(), math.sqrt(np.sum(weights**2))
    expected = _expected_per_pot(toy_model, SLAB, 4.0 * 4.0, SLAB["dz"])
    assert error / total < 0.02
    assert abs(total - expected) < 4.0 * error + 0.005 * expected, (total, error, expected)


def test_partial_segment_closure(toy_model: Any, dipole: Any) -> None:
    # The segment starts in the middle of the slab: only its downstream half counts.
    result = inject_upscatters(
        toy_model,
        [dipole],
        _flux(),
        segment_start_m=-1.0,
        segment_end_m=0.5,
        radius_m=1.0,
        n_events=5_000,
        seed=3,
    )
    assert result.vertex_m[:, 2].min() >= -1.0
    expected = _expected_per_pot(toy_model, SLAB, math.pi * 1.0**2, 0.5 * SLAB["dz"])
    total = result.weight_per_pot.sum()
    error = math.sqrt(np.sum(result.weight_per_pot**2))
    assert abs(total - expected) < 4.0 * error + 0.005 * expected, (total, error, expected)


@pytest.fixture(scope="module")
def steep_dipole(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Toy cross sections rising as E^2, like the upscattering of a heavy HNL."""
    total, differential = _tables(power=2)
    channel = siren.interactions.HNLDipoleFromTable.HelicityChannel.Conserving
    folder = tmp_path_factory.mktemp("steep")
    if "." in str(folder.resolve()):
        folder = None
    return dipole_from_arrays(M4_GEV, 1.0, channel, total, differential, table_dir=folder)


@pytest.mark.parametrize("bias_energy", [True, False])
def test_energy_importance_sampling_closure(toy_model: Any, steep_dipole: Any,
                                            bias_energy: bool) -> None:
    """sigma ~ E^2: both samplings reproduce the analytic count; drawing E from flux x
    sigma makes the weights even (Kish n_eff ~ N), drawing from the flux does not
    (n_eff / N = <E^2>^2 / <E^4> ~ 0.3 for this flux)."""
    sample = inject_upscatters(
        toy_model, [steep_dipole], _flux(), segment_start_m=-1.25, segment_end_m=-0.75,
        radius_m=1.5, n_events=8_000, seed=21, bias_energy=bias_energy)
    weights = sample.weight_per_pot
    total, error = weights.sum(), math.sqrt(np.sum(weights**2))
    expected = _expected_per_pot(toy_model, SLAB, math.pi * 1.5**2, SLAB["dz"], power=2)
    assert abs(total - expected) < 4.0 * error + 0.005 * expected, (total, error, expected)
    n_eff_fraction = total**2 / np.sum(weights**2) / weights.size
    if bias_energy:
        assert n_eff_fraction > 0.95
        assert error / total < 0.013
    else:
        assert 0.2 < n_eff_fraction < 0.45


def test_gas_gets_fewer_interactions_per_volume(toy_model: Any, sample: UpscatterSample) -> None:
    in_slab, in_gas = _in_box(sample.vertex_m, SLAB), _in_box(sample.vertex_m, GAS)
    assert in_slab.sum() + in_gas.sum() == sample.energy_gev.size
    # per volume, events and weights in the gas are ~1000x (density) x 0.8 (Z^2/A) fewer
    ratio_events = (in_gas.sum() / GAS["dz"]) / (in_slab.sum() / SLAB["dz"])
    assert 1e-4 < ratio_events < 3e-3
    expected = _expected_per_pot(toy_model, GAS, 16.0, GAS["dz"])
    weights = sample.weight_per_pot[in_gas]
    error = math.sqrt(np.sum(weights**2))
    assert abs(weights.sum() - expected) < 5.0 * error, (weights.sum(), error, expected)


def test_vertex_z_uniform_in_slab(sample: UpscatterSample) -> None:
    z = sample.vertex_m[_in_box(sample.vertex_m, SLAB), 2]
    counts, _ = np.histogram(z, bins=10, range=(-1.25, -0.75))
    expected = z.size / 10
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 30.0, counts  # 9 dof: p ~ 4e-4


def test_targets_and_kinematics(sample: UpscatterSample) -> None:
    in_slab = _in_box(sample.vertex_m, SLAB)
    weights = sample.weight_per_pot
    c12_share = weights[in_slab & (sample.target_pdg == C12)].sum() / weights[in_slab].sum()
    n_c12, n_o16 = 0.7 / 12 * 36, 0.3 / 16 * 64  # n_T Z^2, up to a common factor
    assert c12_share == pytest.approx(n_c12 / (n_c12 + n_o16), abs=0.02)
    assert set(np.unique(sample.target_pdg)) <= {C12, O16}
    assert set(np.unique(sample.sector)) <= {"slab", "gasbox"}
    assert np.all(sample.hnl_pdg == 5914)
    p4 = sample.hnl_p4_gev
    mass = np.sqrt(p4[:, 0] ** 2 - np.sum(p4[:, 1:] ** 2, axis=1))
    assert mass == pytest.approx(M4_GEV, rel=1e-6)
    # four-momentum conservation: nu (E, 0, 0, E) + A at rest = N + recoil
    recoil = sample.recoil_p4_gev
    zeros = np.zeros_like(sample.energy_gev)
    beam = np.column_stack([zeros, zeros, sample.energy_gev])
    assert np.allclose(p4[:, 1:] + recoil[:, 1:], beam, atol=1e-6)
    assert np.all(sample.energy_gev > M4_GEV)
    # the neutrino comes along +z, and the target mass SIREN records closes the energy
    # balance with an on-shell recoil (what the event export relies on)
    assert np.array_equal(sample.nu_direction, np.tile([0.0, 0.0, 1.0], (len(p4), 1)))
    mass_of = {C12: 12 * 0.93149410242, O16: 15.99491461957 * 0.93149410242}  # A u [GeV]
    expected_mass = np.array([mass_of[t] for t in sample.target_pdg])
    assert sample.target_mass_gev == pytest.approx(expected_mass, rel=1e-6)
    energy = sample.energy_gev + sample.target_mass_gev - p4[:, 0]
    assert recoil[:, 0] == pytest.approx(energy, rel=1e-12)
    recoil_mass = np.sqrt(recoil[:, 0] ** 2 - np.sum(recoil[:, 1:] ** 2, axis=1))
    assert recoil_mass == pytest.approx(sample.target_mass_gev, rel=1e-9)


def test_failed_attempts_masked(sample: UpscatterSample) -> None:
    # Lines outside the 4 x 4 m slab (about 43% of the r = 3 m disk) have no interaction.
    n_ok = sample.energy_gev.size
    assert sample.n_injected == 20_000
    assert n_ok / sample.n_injected == pytest.approx(16.0 / (math.pi * 9.0), abs=0.02)
    for column in (sample.vertex_m, sample.target_pdg, sample.hnl_p4_gev, sample.sector):
        assert len(column) == n_ok
    assert np.all(np.isfinite(sample.weight_per_pot))
    assert np.all(sample.weight_per_pot > 0)
    # an empty SIREN event would have weight 1 / N: none must be left
    assert not np.any(np.isclose(sample.weight_per_pot, 1.0 / sample.n_injected))


def test_reproducible_with_seed(toy_model: Any, dipole: Any) -> None:
    def run(seed: int) -> UpscatterSample:
        return inject_upscatters(
            toy_model,
            [dipole],
            _flux(),
            segment_start_m=-3.0,
            segment_end_m=5.0,
            radius_m=3.0,
            n_events=500,
            seed=seed,
            with_sector=False,
        )

    first, second, other = run(5), run(5), run(6)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.energy_gev[:10], other.energy_gev[:10])


@pytest.mark.parametrize("n_events", [0, -5])
def test_non_positive_n_events(toy_model: Any, dipole: Any, n_events: int) -> None:
    with pytest.raises(InputError, match="n_events must be positive"):
        inject_upscatters(
            toy_model,
            [dipole],
            _flux(),
            segment_start_m=-3.0,
            segment_end_m=5.0,
            radius_m=1.0,
            n_events=n_events,
            seed=1,
        )


def test_bad_arguments(toy_model: Any, dipole: Any) -> None:
    kwargs: dict[str, Any] = {
        "segment_start_m": -3.0,
        "segment_end_m": 5.0,
        "radius_m": 1.0,
        "n_events": 10,
        "seed": 1,
    }
    with pytest.raises(InputError, match="segment_end_m"):
        inject_upscatters(toy_model, [dipole], _flux(), **{**kwargs, "segment_end_m": -4.0})
    with pytest.raises(InputError, match="radius_m"):
        inject_upscatters(toy_model, [dipole], _flux(), **{**kwargs, "radius_m": 0.0})
    with pytest.raises(InputError, match="flux"):
        inject_upscatters(toy_model, [dipole], (np.ones(3), np.ones(4)), **kwargs)
    with pytest.raises(InputError, match="at least one"):
        inject_upscatters(toy_model, [], _flux(), **kwargs)


def test_table_must_span_flux(toy_model: Any, tmp_path: Path) -> None:
    total, differential = _tables(e_max_gev=5.0)  # the flux goes to 10 GeV
    channel = siren.interactions.HNLDipoleFromTable.HelicityChannel.Conserving
    folder = tmp_path if "." not in str(tmp_path.resolve()) else None
    short = dipole_from_arrays(M4_GEV, 1.0, channel, total, differential, table_dir=folder)
    with pytest.raises(InputError, match="does not cover"):
        inject_upscatters(
            toy_model,
            [short],
            _flux(),
            segment_start_m=-3.0,
            segment_end_m=5.0,
            radius_m=1.0,
            n_events=10,
            seed=1,
        )


def test_dipole_from_arrays_rejects_dotted_folder(tmp_path: Path) -> None:
    total, differential = _tables()
    channel = siren.interactions.HNLDipoleFromTable.HelicityChannel.Conserving
    with pytest.raises(InputError, match=r"contains a '\.'"):
        dipole_from_arrays(M4_GEV, 1.0, channel, total, differential, table_dir=tmp_path / "v0.1")


def test_restricted_model_gives_the_same_events(toy_model: Any, dipole: Any) -> None:
    """SIREN through the sectors that meet the injection cylinder only (here the world and
    the gas box, not the slab): the same events and weights, bit for bit."""
    from t2khnl.geometry.restrict import restrict

    small = restrict(toy_model, (-1.6, -1.6, 1.0), (1.6, 1.6, 2.6))
    assert [s.name for s in small.Sectors] == ["UNIVERSE", "world", "gasbox"]
    kwargs = {"segment_start_m": 1.0, "segment_end_m": 2.6, "radius_m": 1.5,
              "n_events": 2000, "seed": 4}
    full = inject_upscatters(toy_model, [dipole], _flux(), **kwargs)
    restricted = inject_upscatters(small, [dipole], _flux(), **kwargs)
    for field in UpscatterSample._fields:
        assert np.array_equal(getattr(full, field), getattr(restricted, field)), field


def test_energy_bias_leaves_out_inert_targets(toy_model: Any) -> None:
    """The importance function is sigma_C12(E) / max, nothing added for the inert hydrogen
    entry SIREN's class carries (it used to add a constant 1, flattening the bias)."""
    from t2khnl import injection, siren_tables, xsec

    c12 = 1000060120
    tables = xsec.build_tables(0.47, [c12, 1000010010], channels=("coherent",))
    processes = siren_tables.siren_cross_sections(tables, 1e-6)
    energies = np.geomspace(0.6, 20.0, 40)
    bias = injection._energy_bias(siren, toy_model, processes,
                                  siren.dataclasses.ParticleType.NuMu, energies, 0.5, 30.0)
    sigma = tables[(c12, "coherent")].total(energies)
    np.testing.assert_allclose(bias, sigma / sigma.max(), rtol=1e-2, atol=1e-3)


def test_precomputed_energy_bias_gives_the_same_events(toy_model: Any, dipole: Any) -> None:
    """b(E) from energy_bias, passed in, is what inject_upscatters computes itself."""
    from t2khnl.injection import energy_bias

    common = dict(segment_start_m=-1.25, segment_end_m=-0.75, radius_m=1.5, n_events=300,
                  seed=5)
    own = inject_upscatters(toy_model, [dipole], _flux(), **common)
    bias = energy_bias(toy_model, [dipole], _flux())
    given = inject_upscatters(toy_model, [dipole], _flux(), bias_energy=bias, **common)
    np.testing.assert_array_equal(own.weight_per_pot, given.weight_per_pot)
    np.testing.assert_array_equal(own.vertex_m, given.vertex_m)
    with pytest.raises(InputError, match="energy bias has shape"):
        inject_upscatters(toy_model, [dipole], _flux(), bias_energy=bias[1:], **common)
