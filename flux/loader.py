"""Manifest-checked input data files and the T2K ND280 beam fluxes.

The raw T2K flux tables (``flux/T2K_PLUS_250kA.dat``, ``flux/T2K_MINUS_250kA.dat``) give
the flux per cm² per 50 MeV per 1e21 POT in 138 contiguous bins over 0-30 GeV whose widths
are *not* uniform (10 MeV below 0.8 GeV up to 1 GeV above 5 GeV). The values are densities
normalised to a 50 MeV interval, so the conversion to ν / m² / GeV / POT is the same factor
2e-16 (= 1e4 cm²/m² / 0.05 GeV / 1e21 POT) in every bin, while the flux *in* a bin is the
density times the bin's own width.

SIREN's own T2K flux loader is never used here: it downloads missing files from the
internet and writes into its install folder. :func:`siren_flux_distribution` builds the
SIREN energy distribution straight from the arrays read by :func:`load_beam_flux`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import numpy.typing as npt
import yaml

from t2khnl._siren import load as load_siren
from t2khnl.errors import DataFileError, InputError

if TYPE_CHECKING:
    import siren

__all__ = [
    "BEAMS",
    "CM2_PER_M2",
    "DATA_DIR_ENV",
    "FILE_POT",
    "FILE_REFERENCE_WIDTH_GEV",
    "RAW_TO_SI",
    "WRONG_SIGN",
    "Flux",
    "data_folder",
    "load_beam_flux",
    "manifest",
    "manifest_entry",
    "sha256_of",
    "siren_flux_distribution",
    "verify",
]

logger = logging.getLogger(__name__)

CM2_PER_M2: float = 1.0e4
"""cm² in one m²."""
FILE_REFERENCE_WIDTH_GEV: float = 0.05
"""The T2K tables give the flux per 50 MeV, whatever the width of the bin [GeV]."""
FILE_POT: float = 1.0e21
"""The T2K tables are normalised to 1e21 protons on target."""
RAW_TO_SI: float = CM2_PER_M2 / FILE_REFERENCE_WIDTH_GEV / FILE_POT
"""Table value (/cm²/50 MeV/1e21 POT) → dΦ/dE in ν / m² / GeV / POT; equals 2e-16."""

_FILE_UNITS_TAG = "/cm^2/50MeV/1E21POT"
_FLAVOUR_COLUMNS = ("numu", "numubar", "nue", "nuebar")


@dataclass(frozen=True)
class _BeamSpec:
    file: str
    column: str
    pdg: int
    description: str


BEAMS: dict[str, _BeamSpec] = {
    "fhc": _BeamSpec("flux/T2K_PLUS_250kA.dat", "numu", 14, "FHC (+250 kA), nu_mu"),
    "rhc": _BeamSpec("flux/T2K_MINUS_250kA.dat", "numubar", -14, "RHC (-250 kA), nu_mu-bar"),
}
"""Beam modes: manifest path of the table, column read, PDG code of the neutrino."""

WRONG_SIGN: dict[str, _BeamSpec] = {
    "fhc": _BeamSpec("flux/T2K_PLUS_250kA.dat", "numubar", -14,
                     "FHC (+250 kA), wrong-sign nu_mu-bar"),
    "rhc": _BeamSpec("flux/T2K_MINUS_250kA.dat", "numu", 14, "RHC (-250 kA), wrong-sign nu_mu"),
}
"""Each beam's other muon-flavour component: same table, the other column."""


# --------------------------------------------------------------------------------------
# Manifest and integrity
# --------------------------------------------------------------------------------------
DATA_DIR_ENV = "T2KHNL_DATA_DIR"
"""Environment variable naming a data folder that replaces the packaged one."""


def data_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the input-data folder.

    Args:
        path: a folder of the user's own inputs (``--data-dir``), laid out as the packaged
            one (``flux/``, ``efficiency/``, ... as the manifest's paths say); defaults to
            ``$T2KHNL_DATA_DIR``, then to the data shipped with the package
            (``t2khnl/flux/data``).

    Raises:
        InputError: the folder given does not exist (a usage error, exit code 2).
    """
    given = path or os.environ.get(DATA_DIR_ENV)
    if not given:
        return Path(str(resources.files(__package__).joinpath("data")))
    candidate = Path(given).expanduser()
    if not candidate.is_dir():
        origin = "--data-dir" if path else f"${DATA_DIR_ENV}"
        msg = (
            f"input data folder {candidate} ({origin}) does not exist: give a folder laid out "
            "as flux/manifest.yaml says, or unset it to use the data shipped with t2khnl"
        )
        raise InputError(msg)
    return candidate


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    """Return the parsed ``flux/manifest.yaml`` shipped with the package.

    Returns:
        The manifest as a dictionary with keys ``schema_version``, ``sources``, ``files``.
    """
    text = resources.files(__package__).joinpath("manifest.yaml").read_text(encoding="utf-8")
    parsed: dict[str, Any] = yaml.safe_load(text)
    return parsed


def manifest_entry(name: str) -> dict[str, Any]:
    """Return the manifest record of one input file.

    Args:
        name: the file's path relative to the data folder (``"flux/T2K_PLUS_250kA.dat"``)
            or, when unambiguous, its bare file name (``"T2K_PLUS_250kA.dat"``).

    Returns:
        The record (keys ``path``, ``sha256``, ``units``, ``columns``, ``source``, ...).

    Raises:
        InputError: the name is not in the manifest, or the bare name is ambiguous.
    """
    files: list[dict[str, Any]] = manifest()["files"]
    wanted = Path(name).as_posix()
    hits = [f for f in files if f["path"] == wanted]
    if not hits:
        hits = [f for f in files if Path(f["path"]).name == wanted]
    if len(hits) != 1:
        known = ", ".join(f["path"] for f in files)
        reason = "is ambiguous" if hits else "is not in flux/manifest.yaml"
        msg = f"input data file {name!r} {reason}; known files: {known}"
        raise InputError(msg)
    return hits[0]


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of a file.

    Args:
        path: the file.

    Returns:
        64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find an input data file and check it against its manifest sha256.

    Args:
        name: path relative to the data folder (``"flux/T2K_PLUS_250kA.dat"``) or the bare
            file name when unambiguous.
        data_dir: the data folder; defaults to ``$T2KHNL_DATA_DIR``, then to the data
            shipped with the package (see :func:`data_folder`).

    Returns:
        The absolute path of the verified file.

    Raises:
        InputError: ``name`` is not in the manifest.
        DataFileError: the data folder or the file is missing (the message names the
            file, its expected sha256, where it comes from and the folder searched), or
            the file's sha256 differs from the manifest (corrupt or modified).
    """
    entry = manifest_entry(name)
    folder = data_folder(data_dir)
    path = (folder / entry["path"]).resolve()
    source = " ".join(str(entry.get("source", "see flux/manifest.yaml")).split())
    if not path.is_file():
        msg = (
            f"input data file {entry['path']} not found in data folder {folder} "
            f"(looked for {path}); expected sha256 {entry['sha256']}; source: {source}. "
            f"Place the file there, or pass --data-dir / set $T2KHNL_DATA_DIR."
        )
        raise DataFileError(msg)
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        msg = (
            f"input data file {path} is corrupt/modified: sha256 {actual} differs from the "
            f"manifest's {entry['sha256']} (flux/manifest.yaml); source: {source}"
        )
        raise DataFileError(msg)
    logger.debug("verified %s (sha256 %s)", path, actual)
    return path


# --------------------------------------------------------------------------------------
# Beam fluxes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Flux:
    """A binned neutrino flux at ND280.

    Attributes:
        beam: ``"fhc"`` or ``"rhc"``.
        pdg: PDG code of the neutrino (14 for nu_mu, -14 for nu_mu-bar).
        energy_edges_gev: the ``n + 1`` contiguous bin edges [GeV].
        flux: the flux density dΦ/dE in each bin [ν / m² / GeV / POT].
        source: the file it was read from.
        column: the column of that file (``"numu"``, ``"numubar"``).
    """

    beam: str
    pdg: int
    energy_edges_gev: npt.NDArray[np.float64]
    flux: npt.NDArray[np.float64]
    source: Path
    column: str

    def __post_init__(self) -> None:
        """Store read-only float copies of the arrays and check their shapes."""
        for name in ("energy_edges_gev", "flux"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if self.energy_edges_gev.ndim != 1 or self.flux.shape != (self.energy_edges_gev.size - 1,):
            msg = "Flux needs n + 1 bin edges for n flux values"
            raise InputError(msg)

    @property
    def energy_centers_gev(self) -> npt.NDArray[np.float64]:
        """Bin centres [GeV]."""
        edges = self.energy_edges_gev
        return np.asarray(0.5 * (edges[:-1] + edges[1:]))

    @property
    def bin_widths_gev(self) -> npt.NDArray[np.float64]:
        """Bin widths [GeV] (not uniform: 0.01 to 1 GeV)."""
        return np.diff(self.energy_edges_gev)

    @property
    def flux_per_bin(self) -> npt.NDArray[np.float64]:
        """Flux in each bin, density × width [ν / m² / POT]."""
        return self.flux * self.bin_widths_gev

    @property
    def integrated_flux(self) -> float:
        """Energy-integrated flux over all bins [ν / m² / POT]."""
        return float(np.sum(self.flux_per_bin))

    @property
    def integrated_flux_per_cm2(self) -> float:
        """Energy-integrated flux over all bins [ν / cm² / POT]."""
        return self.integrated_flux / CM2_PER_M2

    @property
    def max_energy_gev(self) -> float:
        """Upper edge of the highest bin with a non-zero flux [GeV]."""
        nonzero = np.flatnonzero(self.flux > 0)
        if nonzero.size == 0:
            return float(self.energy_edges_gev[0])
        return float(self.energy_edges_gev[nonzero[-1] + 1])

    def integrated_flux_between(self, e_min_gev: float, e_max_gev: float) -> float:
        """Flux integrated over ``[e_min_gev, e_max_gev]``, density flat in each bin.

        Args:
            e_min_gev: lower energy [GeV].
            e_max_gev: upper energy [GeV].

        Returns:
            The flux in that range [ν / m² / POT].
        """
        lo = np.clip(self.energy_edges_gev[:-1], e_min_gev, e_max_gev)
        hi = np.clip(self.energy_edges_gev[1:], e_min_gev, e_max_gev)
        return float(np.sum(self.flux * (hi - lo)))


def _parse_t2k_table(path: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a T2K flux table into bin edges [GeV] and one raw column.

    Args:
        path: the table.
        column: one of ``numu``, ``numubar``, ``nue``, ``nuebar``.

    Returns:
        ``(edges, values)``: ``n + 1`` edges [GeV] and ``n`` values in the file's units
        (per cm² per 50 MeV per 1e21 POT).

    Raises:
        DataFileError: the file does not have the expected layout, units or binning.
    """

    def fail(why: str) -> NoReturn:
        msg = f"cannot parse flux table {path}: {why}"
        raise DataFileError(msg)

    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read flux table {path}: {exc}"
        raise DataFileError(msg) from exc
    if len(lines) < 5:
        fail("fewer than 5 lines")
    if _FILE_UNITS_TAG not in lines[0].replace(" ", ""):
        fail(f"line 1 does not state the units {_FILE_UNITS_TAG!r}: {lines[0].strip()!r}")
    header = lines[1].split()
    if header[:2] != ["Bin#", "Energy"] or header[2:] != list(_FLAVOUR_COLUMNS):
        fail(f"unexpected column header on line 2: {lines[1].strip()!r}")
    index = _FLAVOUR_COLUMNS.index(column)

    lows: list[float] = []
    highs: list[float] = []
    values: list[float] = []
    for lineno, line in enumerate(lines[3:], start=4):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 4 + len(_FLAVOUR_COLUMNS) or tokens[2] != "-":
            fail(f"line {lineno} is not 'bin E_low - E_high {' '.join(_FLAVOUR_COLUMNS)}'")
        try:
            number = int(tokens[0])
            low, high = float(tokens[1]), float(tokens[3])
            value = float(tokens[4 + index])
        except ValueError as exc:
            fail(f"line {lineno}: {exc}")
        if number != len(values) + 1:
            fail(f"line {lineno}: bin number {number}, expected {len(values) + 1}")
        if not (np.isfinite(value) and value >= 0):
            fail(f"line {lineno}: {column} flux {value} is not finite and >= 0")
        lows.append(low)
        highs.append(high)
        values.append(value)
    if len(values) < 2:
        fail("fewer than 2 bins")
    low_arr, high_arr = np.array(lows), np.array(highs)
    if np.any(high_arr <= low_arr):
        fail("a bin has E_high <= E_low")
    if not np.allclose(low_arr[1:], high_arr[:-1], rtol=0, atol=1e-9):
        fail("bins are not contiguous")
    edges = np.append(low_arr, high_arr[-1])
    return edges, np.array(values)


def load_beam_flux(beam: str, data_dir: str | os.PathLike[str] | None = None, *,
                   wrong_sign: bool = False) -> Flux:
    """Load the T2K ND280 nu_mu (FHC) or nu_mu-bar (RHC) flux, or its wrong-sign component.

    The file is checked against its manifest sha256 first. Values are converted from
    ν / cm² / 50 MeV / 1e21 POT to ν / m² / GeV / POT with the factor
    :data:`RAW_TO_SI` = 2e-16, valid for every bin whatever its width (the tabulated values
    are densities per 50 MeV); integrals use the actual bin widths.

    Args:
        beam: ``"fhc"`` (+250 kA, column numu, PDG 14) or ``"rhc"`` (-250 kA, column
            numubar, PDG -14); case-insensitive.
        data_dir: the data folder (see :func:`verify`).
        wrong_sign: read the beam's other muon-flavour column instead (FHC nu_mu-bar,
            PDG -14; RHC nu_mu, PDG 14), :data:`WRONG_SIGN`.

    Returns:
        The flux.

    Raises:
        InputError: unknown beam.
        DataFileError: the file is missing, modified or cannot be parsed.
    """
    key = str(beam).strip().lower()
    if key not in BEAMS:
        msg = f"unknown beam {beam!r}; valid beams: {', '.join(sorted(BEAMS))}"
        raise InputError(msg)
    spec = (WRONG_SIGN if wrong_sign else BEAMS)[key]
    path = verify(spec.file, data_dir)
    edges, raw = _parse_t2k_table(path, spec.column)
    flux = Flux(
        beam=key,
        pdg=spec.pdg,
        energy_edges_gev=edges,
        flux=raw * RAW_TO_SI,
        source=path,
        column=spec.column,
    )
    logger.info(
        "loaded %s flux from %s: %d bins, %.4g-%.4g GeV, integrated %.4e nu/m^2/POT",
        spec.description,
        path,
        edges.size - 1,
        edges[0],
        edges[-1],
        flux.integrated_flux,
    )
    return flux


# --------------------------------------------------------------------------------------
# SIREN
# --------------------------------------------------------------------------------------
def siren_flux_distribution(
    flux: Flux,
    energy_min_gev: float | None = None,
    energy_max_gev: float | None = None,
    *,
    physical_normalization: bool = True,
) -> siren.distributions.TabulatedFluxDistribution:
    """Build SIREN's ``TabulatedFluxDistribution`` from a :class:`Flux`, offline.

    SIREN (0.1.0 = tag v0.1) linearly interpolates the nodes given here — the bin centres
    [GeV] and the densities [ν / m² / GeV / POT], as SIREN's own T2K loader does — and
    integrates that interpolant by the trapezoid rule (``romberg=False``, exact for it)
    over ``[energy_min_gev, energy_max_gev]``. Its ``pdf(E)`` (``SamplePDF``) is the
    interpolant divided by that integral and integrates to 1; with
    ``physical_normalization`` its ``normalization`` is set to the integral, i.e. the flux
    in the energy range [ν / m² / POT], so ``normalization * pdf(E)`` is dΦ/dE in
    ν / m² / GeV / POT and SIREN's event weights come out per POT.

    Do not call ``SetEnergyBounds`` on the result: SIREN then renormalises ``pdf`` to
    the new range but keeps the old ``normalization``. Build a new distribution instead.

    Args:
        flux: the flux (from :func:`load_beam_flux`).
        energy_min_gev: lower energy bound [GeV]; defaults to the first bin centre. Must lie
            within the bin centres (SIREN's interpolator is wrong outside them).
        energy_max_gev: upper energy bound [GeV]; defaults to the last bin centre.
        physical_normalization: set SIREN's physical normalisation (use ``True`` for the
            physical distribution handed to the weighter, ``False`` for an injection one).

    Returns:
        The SIREN distribution.

    Raises:
        InputError: the energy bounds are outside the bin centres or not increasing.
    """
    distributions = load_siren().distributions  # lazy: loading a flux needs no SIREN

    centres = flux.energy_centers_gev
    e_min = float(centres[0]) if energy_min_gev is None else float(energy_min_gev)
    e_max = float(centres[-1]) if energy_max_gev is None else float(energy_max_gev)
    if not centres[0] <= e_min < e_max <= centres[-1]:
        msg = (
            f"energy bounds [{e_min}, {e_max}] GeV must be increasing and within the flux "
            f"table's bin centres [{centres[0]}, {centres[-1]}] GeV"
        )
        raise InputError(msg)
    dist = distributions.TabulatedFluxDistribution(
        e_min,
        e_max,
        centres.tolist(),
        flux.flux.tolist(),
        physical_normalization,
        False,
    )
    logger.debug(
        "SIREN TabulatedFluxDistribution %s [%g, %g] GeV: integral %.6e nu/m^2/POT",
        flux.beam,
        e_min,
        e_max,
        dist.GetIntegral(),
    )
    return dist
