"""A SIREN detector model cut down to the sectors that meet an axis-aligned region.

SIREN intersects every sector of a model with every line it follows (twice per injected
event: once to draw the vertex, once for the interaction probability), and ND280 has 129
sectors while a line through one fiducial box's injection layer meets a handful. A sector
that does not meet a region can neither contain nor hide (by its level) a point inside it,
so for lines and points inside the region the restricted model is the same geometry:
SIREN's vertices, interaction probabilities and sector look-ups are unchanged, bit for bit
(``tests/test_geometry.py``: sectors, densities and column depths around TPC1;
``tests/test_injection.py``: identical injected events), and cost less.

Units: metres, SIREN detector coordinates.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from t2khnl._siren import load as load_siren
from t2khnl.errors import InputError

__all__ = ["restrict"]


def restrict(detector_model: Any, lower_m: npt.ArrayLike, upper_m: npt.ArrayLike) -> Any:
    """The sectors of ``detector_model`` that meet the box [lower_m, upper_m], as a new model.

    The new model shares the materials, origin and rotation of ``detector_model`` and keeps
    every sector's level, so any point inside the box lies in the same sector in both.
    Sectors that are not unrotated boxes are always kept.

    Args:
        detector_model (siren.detector.DetectorModel): the full model.
        lower_m: lower corner (x, y, z) of the region [m], detector coordinates.
        upper_m: upper corner (x, y, z) of the region [m].

    Returns:
        siren.detector.DetectorModel: the restricted model.

    Raises:
        InputError: a corner that is not three finite numbers, or ``lower_m > upper_m``.
    """
    lower, upper = (np.asarray(c, dtype=float) for c in (lower_m, upper_m))
    if lower.shape != (3,) or upper.shape != (3,) or not (
        np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))
    ):
        msg = f"region corners must be three finite numbers [m], got {lower_m!r}, {upper_m!r}"
        raise InputError(msg)
    if np.any(lower > upper):
        msg = f"region lower corner {lower.tolist()} exceeds its upper corner {upper.tolist()}"
        raise InputError(msg)
    siren = load_siren()
    geo_lower, geo_upper = _geometry_bounds(siren, detector_model, lower, upper)
    model = siren.detector.DetectorModel()
    model.Materials = detector_model.Materials
    model.DetectorOrigin = detector_model.DetectorOrigin
    model.DetectorRotation = detector_model.DetectorRotation
    # a new model already holds SIREN's default UNIVERSE sector (the lowest level)
    present = {s.level for s in model.Sectors}
    for sector in detector_model.Sectors:
        if sector.level in present or not _meets(sector, geo_lower, geo_upper):
            continue
        model.AddSector(sector)
    return model


def _geometry_bounds(
    siren: Any, detector_model: Any, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The region's bounding box in SIREN's geometry coordinates (those of the sectors)."""
    corners = []
    for corner in itertools.product(*zip(lower, upper, strict=True)):
        det = siren.detector.DetectorPosition(siren.math.Vector3D(*map(float, corner)))
        geo = detector_model.DetPositionToGeoPosition(det).get()
        corners.append((geo.GetX(), geo.GetY(), geo.GetZ()))
    points = np.array(corners)
    return points.min(axis=0), points.max(axis=0)


def _meets(sector: Any, lower: np.ndarray, upper: np.ndarray) -> bool:
    """Whether a sector may hold a point of [lower, upper] (always True unless it is an
    unrotated box, whose extent is then compared)."""
    geo = sector.geo
    rotation = geo.placement.Quaternion
    if not hasattr(geo, "X") or (rotation.X, rotation.Y, rotation.Z) != (0.0, 0.0, 0.0):
        return True
    position = geo.placement.Position
    centre = np.array([position.GetX(), position.GetY(), position.GetZ()])
    half = 0.5 * np.array([geo.X, geo.Y, geo.Z])
    return bool(np.all(centre - half <= upper) and np.all(centre + half >= lower))
