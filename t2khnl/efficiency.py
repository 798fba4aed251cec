"""The T2K 2019 e+e-nu selection efficiency: its packaged table and its value at a mass."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import DataFileError, InputError
from .flux import verify

__all__ = ["DEFAULT_EFFICIENCY_TABLE", "EfficiencyTable", "efficiency", "read_efficiency_table"]

DEFAULT_EFFICIENCY_TABLE = "efficiency/t2k2019_ee_nu_efficiency.txt"
"""Manifest path (flux/manifest.yaml) of the T2K 2019 e+e-nu efficiency table."""

FloatArray = npt.NDArray[np.float64]


class EfficiencyTable(NamedTuple):
    """A parsed efficiency table.

    Attributes:
        mass_mev: HNL masses of the nodes [MeV], strictly increasing.
        columns: efficiencies at the nodes, shape (n_columns, n_nodes), dimensionless.
        path: the file read.
    """

    mass_mev: FloatArray
    columns: FloatArray
    path: Path

    @property
    def combined(self) -> FloatArray:
        """The smaller of the columns at each node (dimensionless)."""
        return np.min(self.columns, axis=0)


def read_efficiency_table(path: str | os.PathLike[str]) -> EfficiencyTable:
    """Parse an efficiency table: ``#`` comments, then rows ``M_N[MeV] eff_1 eff_2 ...``.

    Args:
        path: the file (no integrity check here; :func:`efficiency` verifies the
            packaged table's sha256 first).

    Returns:
        The table.

    Raises:
        DataFileError: the file cannot be read, has rows of unequal length or fewer than
            two columns, non-finite values, efficiencies outside [0, 1], fewer than two
            nodes, or masses that are not strictly increasing (the message names the file).
    """
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        msg = f"cannot read efficiency table {source}: {err}"
        raise DataFileError(msg) from err
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            rows.append([float(v) for v in text.split()])
        except ValueError as err:
            msg = f"efficiency table {source} line {number}: not numbers: {line.strip()!r}"
            raise DataFileError(msg) from err
    widths = {len(r) for r in rows}
    if len(rows) < 2 or len(widths) != 1 or widths.pop() < 2:
        msg = (
            f"efficiency table {source} needs at least two rows of equal length "
            f"'M_N[MeV] eff ...' (found {len(rows)} rows)"
        )
        raise DataFileError(msg)
    data = np.asarray(rows, dtype=float)
    mass, columns = data[:, 0], data[:, 1:].T.copy()
    if not np.isfinite(data).all():
        msg = f"efficiency table {source} has non-finite values"
        raise DataFileError(msg)
    steps = np.diff(mass)
    if (steps <= 0).any():
        bad = int(np.argmax(steps <= 0))
        msg = (
            f"efficiency table {source}: masses must be strictly increasing, but "
            f"{mass[bad]:g} MeV is followed by {mass[bad + 1]:g} MeV"
        )
        raise DataFileError(msg)
    if (columns < 0).any() or (columns > 1).any():
        msg = f"efficiency table {source} has efficiencies outside [0, 1]"
        raise DataFileError(msg)
    return EfficiencyTable(mass_mev=mass, columns=columns, path=source)


def efficiency(
    mass_gev: float,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    table: str = DEFAULT_EFFICIENCY_TABLE,
    resample_grid_mev: tuple[float, float, float] | None = None,
) -> float:
    """Return the e+e-nu selection efficiency at one HNL mass.

    The smaller of the table's columns at each node, interpolated linearly in m_N and
    held at the end values outside the table (T2K 2019: 0.063 below 150 MeV, 0.071 above
    475 MeV). With ``resample_grid_mev`` the curve is first sampled on that grid and then
    interpolated linearly between the grid points, as the published authors' code does.

    Args:
        mass_gev: HNL mass [GeV], finite and > 0.
        data_dir: the data folder (see :func:`t2khnl.flux.verify`).
        table: manifest path of the efficiency table.
        resample_grid_mev: ``(start, stop, step)`` [MeV] of the intermediate grid
            (published: ``(10, 2000, 25)``), or ``None``.

    Returns:
        The efficiency (dimensionless, in [0, 1]).

    Raises:
        InputError: the mass is not finite and positive, or the table is not in the
            manifest.
        DataFileError: the table is missing, modified or malformed.
    """
    mass = float(mass_gev)
    if not math.isfinite(mass) or mass <= 0:
        msg = f"HNL mass must be finite and > 0 GeV, got {mass_gev!r}"
        raise InputError(msg)
    parsed = read_efficiency_table(verify(table, data_dir))
    nodes, values = parsed.mass_mev, parsed.combined
    if resample_grid_mev is not None:
        start, stop, step = resample_grid_mev
        grid = np.arange(start, stop + step, step)
        nodes, values = grid, np.interp(grid, nodes, values)
    return float(np.interp(mass * 1.0e3, nodes, values))
