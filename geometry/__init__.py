"""Detector geometries of t2khnl: SIREN base models plus our corrections and fiducial boxes.

``load(name, variant)`` (:mod:`.detector`) returns a :class:`DetectorGeometry` holding the
``siren.detector.DetectorModel``, the fiducial boxes [m], the region lookup and the
materialised SIREN files. The models and their variants are described by the YAML files of
this folder (see README.md).
"""

from .detector import DetectorGeometry, load
from .siren_files import cache_root
from .spec import (
    DEFAULT_VARIANT,
    REGIONS,
    FiducialBox,
    available_models,
    fiducial_boxes,
    fiducial_volume_m3,
    variants,
)

__all__ = [
    "DEFAULT_VARIANT",
    "REGIONS",
    "DetectorGeometry",
    "FiducialBox",
    "available_models",
    "cache_root",
    "fiducial_boxes",
    "fiducial_volume_m3",
    "load",
    "variants",
]
