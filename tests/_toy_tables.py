"""Toy SIREN cross sections for the injection tests: ``HNLDipoleFromTable`` from numpy arrays.

(Production tables come from :mod:`t2khnl.xsec`; these flat toy tables make the analytic
normalisation of tests/test_injection.py exact.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from t2khnl._siren import load as load_siren
from t2khnl.errors import InputError
from t2khnl.xsec import PROTON_PDG


def _nucleus_z_a(pdg: int) -> tuple[int, int]:
    """Z and A of a nucleus from its PDG code 10LZZZAAAI."""
    if not 1000000000 <= pdg < 1100000000:
        msg = f"{pdg} is not a nucleus PDG code (10LZZZAAAI)"
        raise InputError(msg)
    return (pdg // 10000) % 1000, (pdg // 10) % 1000


def dipole_from_arrays(
    mass_gev: float,
    coupling: float,
    channel: Any,
    total: Mapping[int, tuple[ArrayLike, ArrayLike]],
    differential: Mapping[int, tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    table_dir: str | os.PathLike[str] | None = None,
    in_inv_gev: bool = False,
    z_sampling: bool = True,
    inelastic: bool = False,
) -> Any:
    """Build a ``siren.interactions.HNLDipoleFromTable`` from numpy tables.

    siren 0.1.0 does not bind ``Interpolator1D``/``Interpolator2D`` in Python, so
    ``AddTotalCrossSection(target, Interpolator1D)`` cannot be called from Python; the
    tables go through ``Add*CrossSectionFile`` instead. Those parse Z and A from the file
    name (``..._Z_6_A_12_...``), and the differential parser loops forever if the path
    holds a '.' before the last '_'-separated token: the files are written with dot-free
    names in a dot-free folder. The C++ class also requires a hydrogen (1000010010) table
    in both maps (it looks it up for the incoherent proton term on every call); a zero
    table is added when ``total`` has none.

    Args:
        mass_gev (float): HNL mass [GeV].
        coupling (float): the factor d whose square multiplies every table value.
        channel (siren.interactions.HNLDipoleFromTable.HelicityChannel): helicity channel.
        total (Mapping[int, tuple[ArrayLike, ArrayLike]]): per target PDG code, (E [GeV],
            sigma / coupling^2) with sigma in cm^2 (GeV^-2 if ``in_inv_gev``).
        differential (Mapping[int, tuple[ArrayLike, ArrayLike, ArrayLike]]): per target,
            (E [GeV] grid (nE,), z or y grid (nz,), dsigma/dz / coupling^2 (nE, nz)).
        table_dir (str | os.PathLike[str] | None): where to write the table files; a new
            temporary folder by default. Must not contain '.'.
        in_inv_gev (bool): tables in GeV^-2 rather than cm^2; defaults to False.
        z_sampling (bool): the second axis is z = (y - y_min) / (y_max - y_min) (SIREN's
            default) rather than y; defaults to True.
        inelastic (bool): add Z times the hydrogen table to each nucleus (SIREN's
            incoherent proton term); defaults to False.

    Returns:
        siren.interactions.HNLDipoleFromTable: the cross section.

    Raises:
        InputError: mismatched targets or table shapes, or a folder name with a '.'.
    """
    siren = load_siren()
    if set(total) != set(differential):
        msg = "total and differential tables must cover the same targets"
        raise InputError(msg)
    folder = Path(table_dir) if table_dir is not None else Path(tempfile.mkdtemp(prefix="xs"))
    folder = folder.resolve()
    if "." in str(folder):
        msg = f"table_dir {folder} contains a '.', which SIREN's file-name parser cannot take"
        raise InputError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    total = dict(total)
    differential = dict(differential)
    if PROTON_PDG not in total:
        e_any = np.asarray(next(iter(total.values()))[0], dtype=float)
        z_any = np.asarray(next(iter(differential.values()))[1], dtype=float)
        total[PROTON_PDG] = (e_any, np.zeros_like(e_any))
        differential[PROTON_PDG] = (e_any, z_any, np.zeros((e_any.size, z_any.size)))
    xs = siren.interactions.HNLDipoleFromTable(
        float(mass_gev), float(coupling), channel, z_sampling, in_inv_gev, inelastic
    )
    tag = f"{id(xs):x}"
    for pdg in sorted(total):
        z, a = _nucleus_z_a(int(pdg))
        target = siren.dataclasses.ParticleType(int(pdg))
        e_tot, s_tot = (np.asarray(v, dtype=float) for v in total[pdg])
        e_dif, z_dif, s_dif = (np.asarray(v, dtype=float) for v in differential[pdg])
        if e_tot.shape != s_tot.shape or s_dif.shape != (e_dif.size, z_dif.size):
            msg = f"table shapes do not match for target {pdg}"
            raise InputError(msg)
        f_tot = folder / f"tot_{tag}_Z_{z}_A_{a}_end"
        f_dif = folder / f"dif_{tag}_Z_{z}_A_{a}_end"
        np.savetxt(f_tot, np.column_stack([e_tot, s_tot]), fmt="%.17g")
        e_grid, z_grid = np.meshgrid(e_dif, z_dif, indexing="ij")
        np.savetxt(
            f_dif, np.column_stack([e_grid.ravel(), z_grid.ravel(), s_dif.ravel()]), fmt="%.17g"
        )
        xs.AddTotalCrossSectionFile(str(f_tot), target)
        xs.AddDifferentialCrossSectionFile(str(f_dif), target)
    return xs
