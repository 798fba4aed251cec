"""The disk cache of the cross-section tables (:func:`cached_tables`): one ``.npz`` file per
mass, target set and channel, keyed by everything the tables depend on (the grid settings,
the source of :mod:`t2khnl.xsec`, the versions of t2khnl, DarkNews and numpy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import files, form_factors, xsec
from ._version import __version__
from .xsec import (
    _BELOW,
    _EMAX_GEV,
    _N_DIFF_ENERGIES,
    _N_ENERGIES,
    _N_NODES,
    _N_PANELS,
    _QMAX_GEV,
    CHANNELS,
    FREE_NUCLEON_PDG,
    CrossSectionTable,
    _checked_channels,
    _nucleons_of,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

__all__ = ["cached_tables", "tables_cache_path"]


#: Digest of :mod:`t2khnl.xsec` and :mod:`t2khnl.form_factors` as imported: t2khnl's
#: version stays put between releases, so the cache keys carry the code that built the tables.
_SOURCE_SHA256 = hashlib.sha256(b"".join(
    Path(module.__file__).read_bytes() for module in (xsec, form_factors)
    if module.__file__ is not None)).hexdigest()
#: Array fields of :class:`CrossSectionTable`, stored in the cache files.
_ARRAY_FIELDS = ("energies_gev", "total_cm2", "diff_energies_gev", "z", "dsigma_dy_cm2")


def cached_tables(
    mass_gev: float,
    targets_pdg: Sequence[int],
    *,
    channels: Iterable[str] = CHANNELS,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[tuple[int, str], CrossSectionTable]:
    """:func:`build_tables` on its default grids, cached on disk (one ``.npz`` file per key
    and channel).

    Each channel's file (:func:`tables_cache_path`) is named by a hash of the mass, the
    sorted targets, the channel, the grid settings, this module's source and the versions of
    t2khnl, DarkNews and numpy, and written atomically: presets with other channels share
    the coherent tables. A file that cannot be read back (truncated, zip CRC-32 mismatch,
    another key inside) is rebuilt with a warning; a cache folder that cannot be written is
    skipped with a warning. The incoherent tables of nuclei (Z or A - Z times the free
    nucleon's) are not stored but rebuilt from the free nucleon's; a file takes ~20 MB for
    the 25 ND280 nuclei.

    Args:
        mass_gev: HNL mass [GeV].
        targets_pdg: nucleus PDG codes (order and repeats do not matter).
        channels: any of ``"coherent"``, ``"p-el"``, ``"n-el"`` (default all).
        cache_dir: cache folder (default ``$T2KHNL_CACHE_DIR/xsec``, else
            ``$XDG_CACHE_HOME/t2khnl/xsec``, else ``~/.cache/t2khnl/xsec``).

    Returns:
        What :func:`build_tables` returns for the targets in increasing PDG order.

    Raises:
        InputError: as :func:`build_tables`.
    """
    targets = sorted({int(p) for p in targets_pdg})
    tables = {}
    for channel in dict.fromkeys(_checked_channels(channels)):
        tables.update(_cached_channel(mass_gev, targets, channel, cache_dir))
    # build_tables's order: the free nucleons, then each target's channels
    order = [*((pdg, c) for c, pdg in FREE_NUCLEON_PDG.items()),
             *((t, c) for t in targets for c in CHANNELS)]
    return {key: tables[key] for key in order if key in tables}


def _cached_channel(mass_gev: float, targets: list[int], channel: str,
                    cache_dir: str | os.PathLike[str] | None,
                    ) -> dict[tuple[int, str], CrossSectionTable]:
    """One channel's tables, from its cache file or built and saved."""
    key = _cache_key(mass_gev, targets, (channel,))
    path = _cache_file(mass_gev, key, cache_dir)
    try:
        tables = _load_tables(path, key)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        logger.warning(
            "cross-section cache %s is unreadable (%s: %s); rebuilding it",
            path,
            type(err).__name__,
            err,
        )
    else:
        logger.debug("%s cross sections at m_N = %g GeV read from %s", channel, mass_gev,
                      path)
        return tables
    tables = xsec.build_tables(mass_gev, targets, channels=(channel,))
    try:
        _save_tables(path, key, tables)
    except OSError as err:
        logger.warning("cannot write the cross-section cache %s: %s", path, err)
    return tables


def tables_cache_path(
    mass_gev: float,
    targets_pdg: Sequence[int],
    *,
    channel: str = "coherent",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The file in which :func:`cached_tables` keeps one channel's tables for these
    arguments (it may not exist yet)."""
    return _cache_file(mass_gev, _cache_key(mass_gev, targets_pdg, (channel,)), cache_dir)


def _cache_key(mass_gev: float, targets_pdg: Iterable[int], channels: tuple[str, ...]) -> str:
    """Everything the default tables depend on, as canonical JSON."""
    import DarkNews

    return json.dumps(
        {
            "mass_gev": float(mass_gev),
            "targets_pdg": sorted({int(p) for p in targets_pdg}),
            "channels": sorted(set(channels)),
            "grid": {
                "emax_gev": _EMAX_GEV,
                "n_energies": _N_ENERGIES,
                "n_diff_energies": _N_DIFF_ENERGIES,
                "below_threshold": _BELOW,
                "qmax_gev": _QMAX_GEV,
                "gauss_legendre": [_N_PANELS, _N_NODES],
            },
            "source_sha256": _SOURCE_SHA256,
            "versions": {
                "t2khnl": __version__,
                "DarkNews": DarkNews.__version__,
                "numpy": np.__version__,
            },
        },
        sort_keys=True,
    )


def _cache_file(mass_gev: float, key: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is None:
        from .geometry import cache_root

        folder = cache_root().parent / "xsec"  # cache_root() is <cache>/geometry
    else:
        folder = Path(cache_dir)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return folder / f"m{float(mass_gev):.6g}-{digest}.npz"


def _save_tables(path: Path, key: str, tables: dict[tuple[int, str], CrossSectionTable]) -> None:
    """Write the tables atomically, with the umask's mode (:func:`t2khnl.files.atomic_path`)."""
    index: list[dict[str, Any]] = []
    arrays: dict[str, NDArray[np.float64]] = {}
    for i, ((pdg, channel), table) in enumerate(tables.items()):
        derived = channel in FREE_NUCLEON_PDG and pdg != FREE_NUCLEON_PDG[channel]
        index.append({"target_pdg": pdg, "channel": channel, "derived": derived})
        if not derived:
            index[-1].update(
                mass_gev=table.mass_gev,
                multiplicity=table.multiplicity,
                scatterer_mass_gev=table.scatterer_mass_gev,
                threshold_gev=table.threshold_gev,
            )
            arrays.update({f"{i}.{name}": getattr(table, name) for name in _ARRAY_FIELDS})
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.savez(file, key=np.array(key), index=np.array(json.dumps(index)), **arrays)


def _load_tables(path: Path, key: str) -> dict[tuple[int, str], CrossSectionTable]:
    """Read a cache file; raises if it is damaged (zip CRC-32) or holds another key."""
    with np.load(path, allow_pickle=False) as data:
        if str(data["key"][()]) != key:
            msg = "it holds the tables of another key"
            raise ValueError(msg)
        tables: dict[tuple[int, str], CrossSectionTable] = {}
        for i, entry in enumerate(json.loads(str(data["index"][()]))):
            pdg, channel = int(entry["target_pdg"]), str(entry["channel"])
            if entry["derived"]:
                tables[(pdg, channel)] = _nucleons_of(
                    tables[(FREE_NUCLEON_PDG[channel], channel)], pdg)
                continue
            tables[(pdg, channel)] = CrossSectionTable(
                mass_gev=entry["mass_gev"],
                target_pdg=pdg,
                channel=channel,
                multiplicity=entry["multiplicity"],
                scatterer_mass_gev=entry["scatterer_mass_gev"],
                threshold_gev=entry["threshold_gev"],
                **{name: data[f"{i}.{name}"] for name in _ARRAY_FIELDS},
            )
    return tables
