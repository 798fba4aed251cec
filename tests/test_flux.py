"""Tests of t2khnl.flux: manifest integrity, T2K flux loading, units, SIREN distribution."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from t2khnl import flux as F
from t2khnl.errors import DataFileError, InputError

# Importing siren imports DarkNews, which leaves files open (ResourceWarning at collection).
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

PLUS = "flux/T2K_PLUS_250kA.dat"
MINUS = "flux/T2K_MINUS_250kA.dat"


@pytest.fixture(scope="module")
def data() -> Path:
    return F.data_folder()


@pytest.fixture(scope="module")
def fhc(data: Path) -> F.Flux:
    return F.load_beam_flux("fhc", data)


@pytest.fixture(scope="module")
def rhc(data: Path) -> F.Flux:
    return F.load_beam_flux("rhc", data)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


# --- manifest and sha256 ---------------------------------------------------------------
def test_default_data_folder_is_the_installed_package_data(monkeypatch) -> None:
    """With $T2KHNL_DATA_DIR unset, the data folder is inside the installed t2khnl.flux and
    holds every manifest file with its sha256 (nothing beside the checkout is read)."""
    monkeypatch.delenv(F.DATA_DIR_ENV, raising=False)
    folder = F.data_folder()
    assert folder == Path(F.__file__).resolve().parent / "data"
    for entry in F.manifest()["files"]:
        assert F.sha256_of(folder / entry["path"]) == entry["sha256"], entry["path"]
        assert F.verify(entry["path"]) == (folder / entry["path"]).resolve()


def test_environment_variable_overrides_the_packaged_data(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "flux").mkdir()
    shutil.copyfile(F.data_folder() / PLUS, tmp_path / PLUS)
    monkeypatch.setenv(F.DATA_DIR_ENV, str(tmp_path))
    assert F.data_folder() == tmp_path
    assert F.verify(PLUS) == (tmp_path / PLUS).resolve()
    monkeypatch.setenv(F.DATA_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(InputError, match=r"absent.*T2KHNL_DATA_DIR.*does not exist"):
        F.data_folder()


def test_manifest_lists_and_verifies_every_data_file(data: Path) -> None:
    on_disk = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    entries = F.manifest()["files"]
    assert {e["path"] for e in entries} == on_disk
    for entry in entries:
        assert entry["units"] and entry["columns"] and entry["source"] and entry["origin"]
        assert F.verify(entry["path"], data) == (data / entry["path"]).resolve()


def test_verify_accepts_bare_file_name(data: Path) -> None:
    assert F.verify("T2K_PLUS_250kA.dat", data).name == "T2K_PLUS_250kA.dat"


def test_verify_rejects_modified_copy(data: Path, tmp_path: Path) -> None:
    (tmp_path / "flux").mkdir()
    copy = tmp_path / PLUS
    shutil.copyfile(data / PLUS, copy)
    assert F.verify(PLUS, tmp_path) == copy.resolve()  # an intact copy passes
    text = copy.read_text().replace("1.60e+12", "1.61e+12", 1)
    copy.chmod(0o644)
    copy.write_text(text)
    with pytest.raises(DataFileError) as err:
        F.verify(PLUS, tmp_path)
    message = str(err.value)
    assert "corrupt/modified" in message
    assert F.manifest_entry(PLUS)["sha256"] in message
    assert F.sha256_of(copy) in message


def test_verify_missing_file_says_what_where_and_from_where(tmp_path: Path) -> None:
    with pytest.raises(DataFileError) as err:
        F.verify(MINUS, tmp_path)
    message = str(err.value)
    assert "T2K_MINUS_250kA.dat" in message
    assert "e2d6bedd56f4c30ad765ec0320970565ad2d63faf5cb4cdd9004d4f6cd965ffe" in message
    assert "SIREN" in message and "T2K" in message  # the source
    assert str(tmp_path) in message  # the folder searched


def test_verify_unknown_name() -> None:
    with pytest.raises(InputError, match=r"not in flux/manifest\.yaml"):
        F.verify("flux/nonexistent.dat")


# --- file format, units, bin widths ----------------------------------------------------
def test_binning_is_contiguous_and_not_uniform(fhc: F.Flux, rhc: F.Flux) -> None:
    assert fhc.flux.size == 138
    assert fhc.energy_edges_gev[0] == 0.0 and fhc.energy_edges_gev[-1] == 30.0
    widths = sorted(set(np.round(fhc.bin_widths_gev, 6)))
    assert widths == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    assert np.allclose(fhc.bin_widths_gev[:80], 0.01)  # 0-0.8 GeV
    assert np.allclose(fhc.bin_widths_gev[-25:], 1.0)  # 5-30 GeV: 25 bins
    np.testing.assert_array_equal(fhc.energy_edges_gev, rhc.energy_edges_gev)
    np.testing.assert_allclose(fhc.energy_centers_gev[:2], [0.005, 0.015])


def test_unit_conversion_factor(fhc: F.Flux) -> None:
    assert abs(F.RAW_TO_SI - 2e-16) < 1e-30
    # bin 52 of T2K_PLUS_250kA.dat: "0.51 - 0.52  1.60e+12" per cm^2 per 50 MeV per 1e21 POT
    k = int(np.argmin(np.abs(fhc.energy_centers_gev - 0.515)))
    assert fhc.flux[k] == pytest.approx(1.60e12 * 1e4 / 0.05 / 1e21)
    # a 1 GeV wide bin (5-6 GeV, 5.35e9) holds 20 times its 50 MeV-normalised value
    j = int(np.argmin(np.abs(fhc.energy_centers_gev - 5.5)))
    assert fhc.flux_per_bin[j] == pytest.approx(5.35e9 * 20 * 1e4 / 1e21)


def test_fhc_integrated_flux_independent_parse(fhc: F.Flux, data: Path) -> None:
    raw = np.genfromtxt(data / PLUS, skip_header=3, usecols=(1, 3, 4))
    low, high, numu = raw.T
    # value is per 50 MeV: a bin of width w holds value * w / 50 MeV
    per_cm2_per_1e21 = float(np.sum(numu * (high - low) / 0.05))
    expected_per_m2_per_pot = per_cm2_per_1e21 * 1e4 / 1e21
    assert fhc.integrated_flux == pytest.approx(expected_per_m2_per_pot, rel=1e-12)
    assert fhc.integrated_flux_per_cm2 == pytest.approx(per_cm2_per_1e21 / 1e21, rel=1e-12)
    # treating every bin as 50 MeV wide would overestimate ~4x: widths matter
    naive = float(np.sum(numu)) * 1e4 / 1e21
    assert naive / fhc.integrated_flux == pytest.approx(3.99, abs=0.02)
    # ~1.9e13 nu_mu / cm^2 per 1e21 POT at ND280: peak ~1.7e12 per 50 MeV at 0.6 GeV
    # times a ~0.5 GeV wide peak gives ~1.7e13; T2K quotes O(1e13) per cm^2 per 1e21 POT.
    assert 1.0e-8 < fhc.integrated_flux_per_cm2 < 3.0e-8


@pytest.mark.parametrize(
    ("beam", "other_file", "tolerance"),
    [("fhc", "flux/TOT_PLUS_NUMU.dat", 0.05), ("rhc", "flux/TOT_MINUS_NUMUBAR.dat", 0.05)],
)
def test_integrated_flux_agrees_with_other_release(
    beam: str, other_file: str, tolerance: float, data: Path
) -> None:
    """TOT_*.dat: another tabulation (50 MeV bins, nu/m^2/GeV/POT) of the same fluxes."""
    flux = F.load_beam_flux(beam, data)
    energy, density = np.loadtxt(F.verify(other_file, data), unpack=True)
    widths = np.where(energy < 10.0, 0.05, 1.0)
    other = float(np.sum(density * widths))
    assert flux.integrated_flux == pytest.approx(other, rel=tolerance)


def test_rhc_reads_numubar_column(rhc: F.Flux, fhc: F.Flux) -> None:
    # first rows: MINUS "1.35e+09 1.17e+09 ..." (numu, numubar); PLUS numu 1.33e+09
    assert rhc.pdg == -14 and rhc.column == "numubar" and rhc.source.name == "T2K_MINUS_250kA.dat"
    assert rhc.flux[0] == pytest.approx(1.17e9 * 2e-16)
    assert fhc.pdg == 14 and fhc.column == "numu" and fhc.source.name == "T2K_PLUS_250kA.dat"
    assert fhc.flux[0] == pytest.approx(1.33e9 * 2e-16)
    assert rhc.integrated_flux < fhc.integrated_flux


def test_wrong_sign_columns(data: Path) -> None:
    """FHC's wrong-sign component is the numubar column of the +250 kA file, RHC's the numu
    column of the -250 kA one (first rows: PLUS numubar 1.29e+09, MINUS numu 1.35e+09)."""
    fhc_bar = F.load_beam_flux("fhc", data, wrong_sign=True)
    rhc_nu = F.load_beam_flux("rhc", data, wrong_sign=True)
    assert (fhc_bar.pdg, fhc_bar.column, fhc_bar.source.name) == (-14, "numubar", Path(PLUS).name)
    assert (rhc_nu.pdg, rhc_nu.column) == (14, "numu")
    assert rhc_nu.source.name == "T2K_MINUS_250kA.dat"
    assert fhc_bar.flux[0] == pytest.approx(1.29e9 * 2e-16)
    assert rhc_nu.flux[0] == pytest.approx(1.35e9 * 2e-16)
    raw = np.genfromtxt(data / PLUS, skip_header=3, usecols=(1, 3, 5))
    expected = float(np.sum(raw[:, 2] * (raw[:, 1] - raw[:, 0]) / 0.05)) * 1e4 / 1e21
    assert fhc_bar.integrated_flux == pytest.approx(expected, rel=1e-12)
    # wrong sign: 6.5% of FHC, 10.8% of RHC, whose nu_mu has the harder spectrum (60% of
    # the nu_mu-bar at 2-5 GeV, 145% above 5 GeV): it matters most for heavy HNLs
    main, rhc = F.load_beam_flux("fhc", data), F.load_beam_flux("rhc", data)
    assert fhc_bar.integrated_flux / main.integrated_flux == pytest.approx(0.0650, abs=1e-3)
    assert rhc_nu.integrated_flux / rhc.integrated_flux == pytest.approx(0.1076, abs=1e-3)
    assert rhc_nu.integrated_flux_between(5, 30) > rhc.integrated_flux_between(5, 30)


def test_max_energy(fhc: F.Flux, rhc: F.Flux) -> None:
    assert fhc.max_energy_gev == 24.0  # bin 23-24 GeV holds 8.70e3, above it zeros
    assert rhc.max_energy_gev == 19.0
    assert fhc.integrated_flux_between(0.0, 30.0) == pytest.approx(fhc.integrated_flux)
    # half of the 0.51-0.52 GeV bin
    k = int(np.argmin(np.abs(fhc.energy_centers_gev - 0.515)))
    assert fhc.integrated_flux_between(0.51, 0.515) == pytest.approx(fhc.flux[k] * 0.005)


def test_unknown_beam_lists_valid_ones() -> None:
    with pytest.raises(InputError, match=r"fhc, rhc"):
        F.load_beam_flux("numi")


def test_parse_error_names_file(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "T2K_PLUS_250kA.dat"
    lines = (data / PLUS).read_text().splitlines()
    lines[10] = lines[10].replace(" - ", " ")
    broken.write_text("\n".join(lines))
    monkeypatch.setattr(F.loader, "verify", lambda name, data_dir=None: broken)
    with pytest.raises(DataFileError, match=r"T2K_PLUS_250kA\.dat.*line 11"):
        F.load_beam_flux("fhc")


# --- SIREN -----------------------------------------------------------------------------
def test_no_download_or_network(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import siren
    import siren.download

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network/download attempted: {args!r}")

    for name in (
        "download_file",
        "ensure_files",
        "ensure_zenodo_files",
        "ensure_zenodo_archive",
        "zenodo_file_url",
    ):
        monkeypatch.setattr(siren.download, name, forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(urllib.request, "urlopen", forbidden)

    t2k_near = Path(siren.__file__).parent / "resources" / "fluxes" / "T2K_NEAR"
    before = sorted(p.name for p in t2k_near.rglob("*") if p.suffix == ".dat")
    home_cache = Path.home() / ".siren"
    home_existed = home_cache.exists()

    for beam in F.BEAMS:
        dist = F.siren_flux_distribution(F.load_beam_flux(beam, data))
        assert dist.GetIntegral() > 0

    assert sorted(p.name for p in t2k_near.rglob("*") if p.suffix == ".dat") == before
    assert home_cache.exists() == home_existed


def test_loading_flux_does_not_import_siren(data: Path) -> None:
    code = (
        "import sys; from t2khnl.flux import load_beam_flux; "
        f"load_beam_flux('fhc', {str(data)!r}); print('siren' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == "False"


def test_siren_distribution_normalisation(fhc: F.Flux) -> None:
    dist = F.siren_flux_distribution(fhc)
    centres, density = fhc.energy_centers_gev, fhc.flux
    # SIREN's integral: trapezoid of the bin-centre nodes = flux per m^2 per POT
    assert dist.GetIntegral() == pytest.approx(_trapezoid(density, centres), rel=1e-12)
    assert dist.IsNormalizationSet()
    assert dist.normalization == pytest.approx(dist.GetIntegral(), rel=1e-15)
    # ... within 0.2% of the histogram integral of the table
    assert dist.normalization == pytest.approx(fhc.integrated_flux, rel=2e-3)
    # normalization * pdf(E) is dPhi/dE [nu/m^2/GeV/POT] (linear interpolation)
    energies = np.array([0.0051, 0.3, 0.6, 0.805, 1.37, 5.5, 23.4])
    physical = np.array([dist.normalization * dist.SamplePDF(e) for e in energies])
    np.testing.assert_allclose(physical, np.interp(energies, centres, density), rtol=1e-9)
    # pdf integrates to 1 over [first, last] bin centre
    grid = np.union1d(np.linspace(centres[0], centres[-1], 20001), centres)
    grid = grid[grid > centres[0]]  # SIREN's interpolator returns 0 exactly at the first node
    pdf = np.array([dist.SamplePDF(e) for e in grid])
    assert _trapezoid(pdf, grid) == pytest.approx(1.0, abs=2e-4)


def test_siren_distribution_with_bounds(fhc: F.Flux) -> None:
    e_min, e_max = 0.47, 20.0
    dist = F.siren_flux_distribution(fhc, e_min, e_max)
    centres = fhc.energy_centers_gev
    grid = np.union1d([e_min, e_max], centres[(centres > e_min) & (centres < e_max)])
    expected = _trapezoid(np.interp(grid, centres, fhc.flux), grid)
    assert dist.GetIntegral() == pytest.approx(expected, rel=1e-12)
    assert dist.normalization == pytest.approx(expected, rel=1e-12)
    assert dist.normalization == pytest.approx(fhc.integrated_flux_between(e_min, e_max), rel=5e-3)
    injection = F.siren_flux_distribution(fhc, e_min, e_max, physical_normalization=False)
    assert not injection.IsNormalizationSet()
    with pytest.raises(InputError, match="bin centres"):
        F.siren_flux_distribution(fhc, 0.0, 20.0)
    with pytest.raises(InputError):
        F.siren_flux_distribution(fhc, 2.0, 1.0)
