"""SIREN's cross sections from t2khnl's tables: the text files ``HNLDipoleFromTable`` reads and
the objects built from them (:func:`siren_cross_sections`).

SIREN's C++ ``HNLDipoleFromTable`` (tag v0.1) is fed through its file interface (siren 0.1.0's
Python bindings do not expose its interpolators). Its total cross section is
``dipole_coupling^2 * table(E)``; the differential table is f(E, z) with
``z = (y - yMin) / (yMax - yMin)``, y = Q^2 / (2 M E); ``dipole_coupling`` multiplies
whatever the table is normalised to: here d in GeV^-1 (docs/xsec.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ComputationError, InputError
from .xsec import (
    _FLOOR,
    _N_SIREN_TOTAL,
    _SIREN_DIFF_STRIDE,
    NEUTRON_PDG,
    PROTON_PDG,
    CrossSectionTable,
    _loglog,
    _zpad,
    siren_y_bounds,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["siren_cross_sections", "write_siren_table_files"]


def _every(n: int, step: int) -> NDArray[np.intp]:
    """Indices 0, step, 2 step, ... plus the last one."""
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _scientific_text(*columns: NDArray[np.float64]) -> bytes:
    """Whitespace-separated columns, one row per line, each value as ``d.ddddddddde+XXX``.

    Formatted with numpy arithmetic (10 significant digits, relative rounding <= 5e-10)
    instead of per-value string formatting, which cost ~3 s per ND280 mass point. Values
    must be finite and positive (the tables are floored at 1e-300).
    """
    rows = np.concatenate([_scientific_chars(np.asarray(c, dtype=float)) for c in columns],
                          axis=1)
    rows[:, -1] = ord("\n")
    return rows.tobytes()


def _grid_text(energies: NDArray[np.float64], zs: NDArray[np.float64],
               values: NDArray[np.float64]) -> bytes:
    """:func:`_scientific_text` of the columns (E, z, f) of a grid, rows in (E, z) order:
    each node value is formatted once, not once per row it appears in."""
    chars = np.empty((energies.size, zs.size, 3 * _CHARS), dtype=np.uint8)
    chars[:, :, :_CHARS] = _scientific_chars(energies)[:, None, :]
    chars[:, :, _CHARS:2 * _CHARS] = _scientific_chars(zs)[None, :, :]
    chars[:, :, 2 * _CHARS:] = _scientific_chars(values.ravel()).reshape(
        energies.size, zs.size, _CHARS)
    chars[:, :, -1] = ord("\n")
    return chars.tobytes()


#: Characters of one value in SIREN's text tables, the separator included.
_CHARS = 17


def _scientific_chars(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Each value as the characters ``d.ddddddddde+XXX `` (see :func:`_scientific_text`),
    shape (n, 17)."""
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        msg = "only finite positive values can be written to SIREN's tables"
        raise ComputationError(msg)
    exponent = np.floor(np.log10(values)).astype(np.int64)
    digits = np.rint(values / 10.0**exponent * 1e9).astype(np.int64)
    low = digits < 10**9  # log10 rounded up across a power of ten
    exponent[low] -= 1
    digits[low] = np.rint(values[low] / 10.0 ** exponent[low] * 1e9)
    high = digits >= 10**10  # the mantissa rounded up to 10
    exponent[high] += 1
    digits[high] //= 10
    chars = np.empty((values.size, _CHARS), dtype=np.uint8)
    chars[:, 0] = digits // 10**9
    chars[:, 2:11] = (digits[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    magnitude = np.abs(exponent)
    chars[:, 13:16] = (magnitude[:, None] // np.array([100, 10, 1])) % 10
    chars[:, [0, *range(2, 11), 13, 14, 15]] += ord("0")
    chars[:, 1] = ord(".")
    chars[:, 11] = ord("e")
    chars[:, 12] = np.where(exponent < 0, ord("-"), ord("+"))
    chars[:, 16] = ord(" ")
    return chars


def _siren_diff_values(table: CrossSectionTable, times_y: bool) -> NDArray[np.float64]:
    """The differential table as SIREN reads it: helicities summed, times y if ``times_y``,
    shape (nEd, nz)."""
    dif = table.dsigma_dy_cm2.sum(axis=0)
    if times_y:
        ymin, ymax = siren_y_bounds(table.diff_energies_gev, table.mass_gev,
                                     table.scatterer_mass_gev)
        dif = dif * (ymin[:, None] + table.z[None, :] * (ymax - ymin)[:, None])
    return np.nan_to_num(dif)


def write_siren_table_files(
    tables: Sequence[CrossSectionTable], directory: str | os.PathLike[str],
    *, times_y: bool = True, stride: tuple[int, int] = (1, 1),
    total_from_gev: float | None = None,
) -> tuple[Path, Path]:
    """Write one target's tables, helicities summed, in the text format of SIREN's
    ``Add*CrossSectionFile``: the total of all its channels, and the differential of its
    lowest-threshold table (the coherent one, for a nucleus) alone.

    The total sets where and how often the target interacts; the differential only the
    shape SIREN samples y from. Incoherent upscatters (p-el, n-el) scatter on a nucleon, not
    on the nucleus whose mass SIREN's class puts in the kinematics: :mod:`t2khnl.nucleons`
    draws each event's channel from the totals and gives the incoherent ones their own
    nucleon-level kinematics, so SIREN's sample must hold the coherent shape only.
    File names follow what the C++ parses: ``..._Z_<Z>_A_<A>_mHNL_<m>_unpol.dat``. Values
    are cm^2 for d = 1 GeV^-1 (use ``in_invGeV=False``), floored at 1e-300 (SIREN
    interpolates log f and mishandles zeros).

    Args:
        tables: the target's tables (one mass, one target PDG code).
        directory: output folder.
        times_y: write y * dsigma/dy instead of dsigma/dy (see :func:`siren_cross_sections`).
        total_from_gev: start the total table here [GeV] if below the table's first energy
            (SIREN evaluates every target's total at every sampled energy).
        stride: keep every n-th (energy, z) node of the differential table (first and last
            always kept): SIREN's text parser and std::map cost ~2 us per line.

    Returns:
        (total file, differential file).
    """
    if len({(t.mass_gev, t.target_pdg) for t in tables}) != 1:
        msg = "write_siren_table_files takes the tables of one target at one mass"
        raise ComputationError(msg)
    base = min(tables, key=lambda t: t.threshold_gev)
    # SIREN v0.1's Interpolator1D crashes (segfault) on a grid it indexes in log(E): its
    # zero mask is filled past the end of an empty std::vector<bool> and lost when the
    # interpolator is copied. A uniform linear grid keeps it in linear mode.
    # One node sits exactly at threshold (value 0), so nothing leaks below it.
    step = (base.energies_gev[-1] - base.threshold_gev) / (_N_SIREN_TOTAL - 1)
    start = min(base.energies_gev[0], total_from_gev or base.energies_gev[0])
    n_below = int(np.ceil((base.threshold_gev - start) / step))
    e_lin = base.threshold_gev + step * np.arange(-n_below, _N_SIREN_TOTAL)
    tot = sum(_loglog(e_lin, t.energies_gev, t.total_cm2.sum(axis=0), t.threshold_gev)
              for t in tables)
    ie = _every(base.diff_energies_gev.size, stride[0])
    iz = _every(base.z.size, stride[1])
    energies, zs = base.diff_energies_gev[ie], base.z[iz]
    dif = _siren_diff_values(base, times_y)[np.ix_(ie, iz)]
    return _write_pair(base.target_pdg, base.mass_gev, directory,
                       (e_lin, np.maximum(tot, _FLOOR)), (energies, zs, np.maximum(dif, _FLOOR)))


def _write_pair(target_pdg: int, mass_gev: float, directory: str | os.PathLike[str],
                total: tuple[NDArray[np.float64], ...],
                differential: tuple[NDArray[np.float64], ...]) -> tuple[Path, Path]:
    """Write the total (E, sigma) columns and the differential grid (E nodes, z nodes,
    f of shape (E, z)) of a target at an HNL mass [GeV] under the file names SIREN parses."""
    zz, aa = _zpad(target_pdg)
    tag = f"Z_{zz}_A_{aa}_mHNL_{mass_gev:.15g}_unpol.dat"
    folder = Path(directory)
    tot_path, diff_path = folder / f"xsec_{tag}", folder / f"dxsec_{tag}"
    tot_path.write_bytes(_scientific_text(*total))
    diff_path.write_bytes(_grid_text(*differential))
    return tot_path, diff_path


def _write_inert_hydrogen(tables: Iterable[CrossSectionTable], directory: str | os.PathLike[str],
                          total_from_gev: float) -> tuple[Path, Path]:
    """Hydrogen tables of value 1e-300 spanning the tables' energies and z: the hydrogen
    entry SIREN's class looks up for every target, whether or not hydrogen interacts.

    3-point uniform linear grids (a 2-point grid would be indexed in log, see
    :func:`write_siren_table_files`).
    """
    tables = list(tables)
    e_top = max(t.energies_gev[-1] for t in tables)
    e_tot = np.linspace(total_from_gev, e_top, 3)
    e_diff = np.linspace(min(t.diff_energies_gev[0] for t in tables),
                         max(t.diff_energies_gev[-1] for t in tables), 3)
    z = np.linspace(min(t.z[0] for t in tables), 1.0, 3)
    return _write_pair(PROTON_PDG, tables[0].mass_gev, directory, (e_tot, np.full(3, _FLOOR)),
                       (e_diff, z, np.full((3, 3), _FLOOR)))


def siren_cross_sections(
    tables: dict[tuple[int, str], CrossSectionTable],
    d_gev_inv: float,
    *,
    table_dir: str | os.PathLike[str] | None = None,
    sampling_table: bool = True,
    stride: tuple[int, int] = _SIREN_DIFF_STRIDE,
) -> list[Any]:
    """Build SIREN's C++ ``HNLDipoleFromTable`` objects for the unpolarised upscattering rate.

    One object per target, each holding that target's tables: coherent plus, when the tables
    contain them, Z x the free-proton and A - Z x the free-neutron tables in the total
    (hydrogen has its own object with the free-proton table; the free neutron none).
    SIREN's ``inelastic`` option would add the p-el term itself, but only from a hydrogen
    table inside the same object, so one object would have to hold every target;
    and SIREN's ``GetPossibleTargets`` builds two std::sets of all the object's targets at
    every (target, event) lookup, which made injection cost grow as the square of the
    number of nuclei (ND280: 25). Every object still needs a hydrogen entry (the class looks
    it up for any target): the nucleus objects get an inert one (1e-300 on a 3-point grid),
    ignored by the injection's importance sampling.

    The tables are summed over the two HNL helicities: objects for each helicity would only
    differ in the helicity SIREN stamps on the HNL record, which t2khnl does not read (the
    decay is unpolarised, see :func:`t2khnl.model.sample_pair`). The objects carry the
    ``Conserving`` label; the sampled (E, y, target) distribution is that of the helicity sum.

    The differential tables hold the coherent shape only (:func:`write_siren_table_files`):
    the kinematics SIREN samples are those of coherent scattering for every event, and
    :func:`t2khnl.nucleons.reassign` replaces them for the incoherent ones.

    Args:
        tables: output of :func:`build_tables` (one mass).
        d_gev_inv: dipole coupling d [GeV^-1] (not DarkNews's mu_tr = 2 d).
        table_dir: where to write the text tables SIREN reads (default: a temporary
            folder, removed once the objects are built: they keep their own copy).
        sampling_table: fill the differential table with y * dsigma/dy (default) rather than
            dsigma/dy. SIREN v0.1's ``SampleFinalState`` runs Metropolis-Hastings with
            proposals uniform in log y and acceptance table(y') / table(y), so it draws y with
            density table(y) / y: only y * dsigma/dy gives the physical y distribution (with
            dsigma/dy the median y at 3 GeV on C12 comes out 2x too small). The price:
            ``DifferentialCrossSection`` / ``FinalStateProbability`` then return y times the
            density in y; they cancel in SIREN's weights as long as the same object serves as
            injection and physical process. Use False to make ``DifferentialCrossSection``
            equal dsigma/dy [cm^2] (e.g. to compare with DarkNews).
        stride: subsampling of the (energy, z) nodes of the differential tables handed to
            SIREN (default: all; reading them dominates the cost of this function; the
            totals, which set the rates, are unaffected).

    Returns:
        SIREN's process list, one object per target; ``TotalCrossSection`` in cm^2.
    """
    from ._siren import load as load_siren

    siren = load_siren()
    sdc, sint = siren.dataclasses, siren.interactions

    masses = {t.mass_gev for t in tables.values()}
    if len(masses) != 1:
        msg = f"tables must share one HNL mass, got {sorted(masses)}"
        raise InputError(msg)
    mass = masses.pop()
    by_target: dict[int, list[CrossSectionTable]] = {}
    for (pdg, _channel), table in sorted(tables.items()):
        if pdg != NEUTRON_PDG:
            by_target.setdefault(pdg, []).append(table)
    # SIREN evaluates every target's table at every sampled energy: start all of them at
    # the HNL mass, below every threshold, so that an object depends on its own target's
    # tables only (t2khnl.generate keeps them per target, across detectors).
    total_from = mass
    primaries = {sdc.ParticleType.NuMu, sdc.ParticleType.NuMuBar}
    label = sint.HNLDipoleFromTable.HelicityChannel.Conserving
    hydrogen = sdc.ParticleType(PROTON_PDG)
    processes = []
    with contextlib.ExitStack() as stack:
        if table_dir is None:
            # the objects keep their own copy of the tables: the folder (~80 MB for ND280) is
            # removed once they are built
            table_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="t2khnl_xs_"))
        folder = Path(table_dir)
        for pdg, own in by_target.items():
            xs = sint.HNLDipoleFromTable(mass, d_gev_inv, label, True, False, False, primaries)
            tot, dif = write_siren_table_files(own, folder, times_y=sampling_table,
                                               stride=stride, total_from_gev=total_from)
            xs.AddTotalCrossSectionFile(str(tot), sdc.ParticleType(pdg))
            xs.AddDifferentialCrossSectionFile(str(dif), sdc.ParticleType(pdg))
            if pdg != PROTON_PDG:
                inert_dir = folder / f"inert_{pdg}"
                inert_dir.mkdir(parents=True, exist_ok=True)
                inert = _write_inert_hydrogen(own, inert_dir, total_from)
                xs.AddTotalCrossSectionFile(str(inert[0]), hydrogen)
                xs.AddDifferentialCrossSectionFile(str(inert[1]), hydrogen)
            processes.append(xs)
    return processes
