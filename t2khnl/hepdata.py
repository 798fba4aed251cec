"""HEPData submission of mass scans: contour tables, pyhf likelihoods, figures.

:func:`write_submission` turns the output of ``t2khnl scan`` into a HEPData submission made
with ``hepdata_lib`` and checked offline with ``hepdata_validator``: ``OUT/submission/``
(submission.yaml, one YAML per table, the likelihood archives, figures) and
``OUT/submission.tar.gz``, the archive to upload. One table per contour: m_N [GeV] against
the lower and upper edges of the excluded d_muN interval [GeV^-1], with MC errors and
open-edge flags; one pyhf ``.tar.gz`` (``BkgOnly.json``, ``patchset.json``) per detector.
Importing ``hepdata_lib`` (only inside these functions) changes PyYAML globally and its
submission is built with a changed working directory (not thread-safe).

Details: docs/hepdata.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import DataFileError, HEPDataError
from .patchsets import merge_patchsets, write_likelihoods
from .scanstore import Contour, ScanStore, read_contour

if TYPE_CHECKING:
    from .config import Preset

log = logging.getLogger(__name__)

__all__ = ["validate", "write_submission"]

#: Name of the submission folder and of the archive inside the output folder.
SUBMISSION_DIR = "submission"
SUBMISSION_ARCHIVE = "submission.tar.gz"
#: HEPData's placeholder for an empty cell.
MISSING = "-"
#: Label of the MC (statistical) error on the edges.
MC_ERROR_LABEL = "MC stat"
#: Coupling convention qualifier.
COUPLING_CONVENTION = "d_muN = mu_tr/2 (DarkNews mu_tr_mu4 = 2 d_muN)"
#: HEPData's additional-resource type of pyhf (HistFactory JSON) likelihoods.
HISTFACTORY_TYPE = "HistFactory"
_DETECTOR_TEXT = {
    "nd280": ("ND280 2019", "ND280 (2019 data set)"),
    "upgrade": ("ND280 upgrade", "ND280 upgrade (projection)"),
}
_CALCTYPE_TEXT = {
    "exact": "CLs, exact (Poisson enumeration)",
    "asymptotics": "CLs, asymptotic formulae",
    "asymptotics_clsb": "CLs+b, asymptotic formulae",
    "toybased": "CLs, toys",
}
DEFAULT_COMMENT = (
    "Excluded ranges of the dipole coupling d_muN (transition magnetic moment between "
    "nu_mu and a heavy neutral lepton N) versus the HNL mass: N made by nu_mu upscattering "
    "in and around T2K's near detector ND280 and decaying to nu e+ e- in its gas TPCs. "
    "Analysis of arXiv:2412.15051 redone with t2khnl {version}, preset {preset}."
)

PathLike = str | os.PathLike[str]
#: A likelihood source: (background-only workspace, patchset) files, or a scan folder.
LikelihoodSource = tuple[PathLike, PathLike] | PathLike


# --------------------------------------------------------------------------- likelihoods
def _load_likelihood(
    source: LikelihoodSource, detector: str, inspire_id: str | None
) -> tuple[dict[str, Any], Any]:
    if isinstance(source, tuple | list):
        if len(source) != 2:
            msg = (
                f"likelihood of {detector}: expected (background-only, patchset) files, "
                f"got {source!r}"
            )
            raise HEPDataError(msg)
        pairs: Sequence[tuple[PathLike, PathLike]] = [(source[0], source[1])]
    else:
        pairs = ScanStore(source).mass_likelihoods(detector)
    return merge_patchsets(pairs, inspire_id=inspire_id)


def _likelihood_readme(detector: str, patchset: Any, cfg: Preset) -> str:
    masses = sorted({float(p.values[0]) for p in patchset})
    couplings = sorted({float(p.values[1]) for p in patchset})
    observed = (
        "the observations are the 2019 data (0 FHC, 0 RHC events)"
        if detector == "nd280"
        else "the observations are placeholders (0 events): the projected sensitivity "
        "uses background-only Asimov data"
    )
    return f"""# pyhf likelihoods: dipole-portal HNLs, {_DETECTOR_TEXT[detector][1]}

Made by t2khnl {__version__} (preset `{cfg.name}`).

* `BkgOnly.json`: background-only workspace, one bin per beam mode (FHC, RHC); {observed}.
* `patchset.json`: {len(patchset)} patches, one per model point, labels
  {", ".join(patchset.labels)} (m_N [GeV], d_muN [GeV^-1]; d_muN = mu_tr/2);
  {len(masses)} masses from {masses[0]:g} to {masses[-1]:g} GeV, {len(couplings)} couplings
  from {couplings[0]:g} to {couplings[-1]:g} GeV^-1. Each patch adds the signal (POI `mu`).

Workspace of one point and its CLs:

    pyhf patchset apply BkgOnly.json patchset.json --name <patch name> --output-file ws.json
    pyhf cls ws.json

The limits in this record use: {_statistics(detector, cfg)}. `pyhf cls` uses the
asymptotic formulae; with 0 events observed the exact (Poisson) CLs is exp(-s). The
INSPIRE reference of the patchset is `{patchset.references["hepdata"]}`.
"""


# --------------------------------------------------------------------------- submission
def write_submission(
    output_dir: PathLike,
    contours: Mapping[str, PathLike],
    *,
    patchsets: Mapping[str, LikelihoodSource] | None = None,
    figures: Mapping[str, PathLike] | None = None,
    preset: str | None = None,
    comment: str | None = None,
    inspire_id: str | None = None,
    digits: int = 6,
) -> Path:
    """Write a validated HEPData submission of contours, likelihoods and figures.

    Args:
        output_dir: folder to write ``submission/`` and ``submission.tar.gz`` into (created;
            a previous ``submission/`` and archive there are replaced, nothing else is
            touched).
        contours: ``contour.csv`` files (or scan folders) by detector (``"nd280"``,
            ``"upgrade"``); one table each.
        patchsets: likelihoods by detector: (background-only workspace, patchset) files, or
            a scan folder whose per-mass patchsets are merged (:func:`merge_patchsets`).
            None: no likelihoods.
        figures: a PNG or PDF by detector, attached to that detector's table. None: none.
        preset: ``"corrected"`` or ``"published"`` (a qualifier, and the default exposure);
            default: the one in ``contour.json``, which must agree if both are given.
        comment: the submission's comment (default: :data:`DEFAULT_COMMENT`).
        inspire_id: INSPIRE record of the paper (``"ins"`` + 7 digits); default the
            placeholder :data:`t2khnl.experiment.HEPDATA_PLACEHOLDER`, not written as a record id.
        digits: significant digits of the numbers in the tables.

    Returns:
        The archive ``output_dir/submission.tar.gz``.

    Raises:
        DataFileError: an input file is missing, unreadable or malformed (a contour:
            :func:`t2khnl.scanstore.read_contour`).
        HEPDataError: unknown detectors, inconsistent inputs (:func:`merge_patchsets`), or
            a submission the HEPData validator rejects (with its messages).
        InputError: an unknown preset.
    """
    from . import config

    if not contours:
        msg = "write_submission needs at least one contour"
        raise HEPDataError(msg)
    patchsets, figures = dict(patchsets or {}), dict(figures or {})
    for what, keys in (("contours", contours), ("patchsets", patchsets), ("figures", figures)):
        unknown = sorted(set(keys) - set(config.DETECTORS))
        if unknown:
            msg = (
                f"{what}: unknown detector(s) {', '.join(map(repr, unknown))}; keys must be "
                f"among {', '.join(config.DETECTORS)}"
            )
            raise HEPDataError(msg)
    if set(figures) - set(contours):
        msg = f"figures given for {sorted(set(figures) - set(contours))} without a contour"
        raise HEPDataError(msg)
    if inspire_id is not None and not re.fullmatch(r"ins\d{7}", inspire_id):
        msg = f"inspire_id must be 'ins' and 7 digits, got {inspire_id!r}"
        raise HEPDataError(msg)
    if not (isinstance(digits, int) and 1 <= digits <= 17):
        msg = f"digits must be an integer from 1 to 17, got {digits!r}"
        raise HEPDataError(msg)
    read = {det: read_contour(path) for det, path in contours.items()}
    preset_name = _preset(preset, read)
    cfg = config.load(preset_name)
    likelihoods = {det: _load_likelihood(src, det, inspire_id) for det, src in patchsets.items()}

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    final_dir, final_archive = out / SUBMISSION_DIR, out / SUBMISSION_ARCHIVE
    if final_dir.exists() and not (final_dir / "submission.yaml").is_file():
        msg = f"{final_dir} exists and is not a HEPData submission folder; not replacing it"
        raise HEPDataError(msg)
    with tempfile.TemporaryDirectory(dir=out, prefix=".hepdata-") as tmp:
        work = Path(tmp).resolve()
        inputs = work / "inputs"
        inputs.mkdir()
        submission = _submission(
            read, likelihoods, figures, cfg, comment, inspire_id, digits, inputs
        )
        folder = work / SUBMISSION_DIR
        with _working_directory(work):
            submission.create_files(str(folder), validate=False)
        archive = work / SUBMISSION_ARCHIVE
        validate(folder)
        validate(archive)
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(folder, final_dir)
        os.replace(archive, final_archive)
    log.info(
        "HEPData submission written to %s (%d table(s), %d likelihood archive(s))",
        final_archive,
        len(read),
        len(likelihoods),
    )
    return final_archive


def _preset(preset: str | None, contours: Mapping[str, Contour]) -> str:
    """The preset: the argument, checked against what the contours' metadata say."""
    held = {c.metadata["preset"]: c.path for c in contours.values() if c.metadata.get("preset")}
    for name, path in held.items():
        if preset is not None and name != preset:
            msg = f"preset {preset!r} was asked for, but {path} comes from preset {name!r}"
            raise HEPDataError(msg)
    if len(held) > 1:
        msg = f"the contours come from different presets: {held}"
        raise HEPDataError(msg)
    if preset is None:
        if not held:
            msg = "no contour.json names the preset: give preset='corrected' or 'published'"
            raise HEPDataError(msg)
        preset = next(iter(held))
    return preset


def _submission(
    contours: Mapping[str, Contour],
    likelihoods: Mapping[str, tuple[Any, Any]],
    figures: Mapping[str, PathLike],
    cfg: Preset,
    comment: str | None,
    inspire_id: str | None,
    digits: int,
    inputs: Path,
) -> Any:
    """The hepdata_lib Submission (input files staged in ``inputs``)."""
    from hepdata_lib import Submission

    submission = Submission()
    submission.comment = comment or DEFAULT_COMMENT.format(version=__version__, preset=cfg.name)
    if inspire_id is not None and inspire_id != _placeholder():
        submission.add_record_id(int(inspire_id[3:]), "inspire")
    for det in sorted(contours):
        table = _table(det, contours[det], cfg, digits)
        if det in figures:
            _attach_figure(table, det, Path(figures[det]), inputs)
        submission.add_table(table)
    for det in sorted(likelihoods):
        bkg_only, patchset = likelihoods[det]
        archive = write_likelihoods(
            inputs / f"likelihoods_{det}.tar.gz",
            bkg_only,
            patchset,
            readme=_likelihood_readme(det, patchset, cfg),
        )
        submission.add_additional_resource(
            f"pyhf likelihoods (HistFactory JSON), {_DETECTOR_TEXT[det][1]}: background-only "
            f"workspace BkgOnly.json and patchset.json with one signal patch per (m_N, d) of "
            f"the scan ({len(patchset)} patches)",
            str(archive),
            copy_file=True,
            file_type=HISTFACTORY_TYPE,
        )
    return submission


def _placeholder() -> str:
    from .experiment import HEPDATA_PLACEHOLDER

    return HEPDATA_PLACEHOLDER


def _table(detector: str, contour: Contour, cfg: Preset, digits: int) -> Any:
    """The hepdata_lib Table of one contour."""
    from hepdata_lib import Table, Uncertainty, Variable

    from .couplings import D_GRID_GEV_INV

    held = contour.metadata.get("detector")
    if held is not None and held != detector:
        msg = f"{contour.path} is a {held} contour, given as {detector!r}"
        raise HEPDataError(msg)
    short, long = _DETECTOR_TEXT[detector]
    rows = contour.rows
    grid = (float(D_GRID_GEV_INV[0]), float(D_GRID_GEV_INV[-1]))
    table = Table(f"Excluded d_muN interval {short}")
    table.location = f"Mass scan with t2khnl {__version__} (cf. arXiv:2412.15051)"
    table.description = (
        f"Excluded interval d_low < d_muN < d_high of the dipole coupling at 95% CL versus "
        f"the HNL mass m_N, {long}, preset {cfg.name}. Below d_low too few HNLs are made "
        f"and decay in the TPCs, above d_high they decay before reaching them. '-': nothing "
        f"excluded, or the edge is not quoted (fewer than 50 effective MC events). Errors: "
        f"MC statistical error on the edge. An open flag of 1 means the edge is the end of "
        f"the scanned range {grid[0]:g} to {grid[1]:g} GeV^-1 and the exclusion continues "
        f"beyond it."
    )
    table.keywords["observables"] = ["d_muN", "LIMIT"]
    table.keywords["reactions"] = ["NUMU NUCLEUS --> N NUCLEUS", "N --> NU E+ E-"]
    table.keywords["phrases"] = [
        "Heavy neutral lepton",
        "Dipole portal",
        "Exclusion limit",
        "Neutrino upscattering",
        "T2K",
        "ND280",
    ]

    mass = Variable(
        "$m_N$",
        is_independent=True,
        is_binned=False,
        units="GeV",
        values=[r.mass_gev for r in rows],
    )
    mass.digits = digits
    table.add_variable(mass)
    qualifiers = _qualifiers(detector, contour, cfg, grid)
    for edge, label in (("d_low", "lower"), ("d_high", "upper")):
        var = Variable(
            f"$d_{{\\mu N}}$ {label} edge",
            is_independent=False,
            is_binned=False,
            units="GeV^-1",
            zero_uncertainties_warning=False,
            values=[MISSING if getattr(r, edge) is None else getattr(r, edge) for r in rows],
        )
        var.digits = digits
        error = Uncertainty(MC_ERROR_LABEL, is_symmetric=True)
        error.values = [
            None if getattr(r, edge) is None else getattr(r, f"{edge}_err") for r in rows
        ]
        var.add_uncertainty(error)
        for name, value, units in qualifiers:
            var.add_qualifier(name, value, units)
        table.add_variable(var)
    for edge, label in (("d_low", "lower"), ("d_high", "upper")):
        flag = Variable(
            f"{label} edge open (1: end of the scanned d range)",
            is_independent=False,
            is_binned=False,
            zero_uncertainties_warning=False,
            values=[
                MISSING if getattr(r, edge) is None else int(getattr(r, f"{edge}_open"))
                for r in rows
            ],
        )
        table.add_variable(flag)
    return table


def _qualifiers(
    detector: str, contour: Contour, cfg: Preset, grid: tuple[float, float]
) -> list[tuple[str, str, str]]:
    from .experiment import exposures

    pot = exposures(detector, cfg, contour.metadata.get("pot_total"))
    return [
        ("CL", "95%", ""),
        ("detector", _DETECTOR_TEXT[detector][1], ""),
        ("exposure", f"{pot['fhc']:.4g} (FHC) + {pot['rhc']:.4g} (RHC)", "POT"),
        ("preset", cfg.name, ""),
        ("statistics", _statistics(detector, cfg), ""),
        ("coupling convention", COUPLING_CONVENTION, ""),
        ("scanned d range", f"{grid[0]:g} to {grid[1]:g}", "GeV^-1"),
    ]


def _statistics(detector: str, cfg: Preset) -> str:
    """What the limits are: observed (ND280 2019) or expected (upgrade), and the CL method."""
    calctype = cfg.statistics.calctype
    if detector == "nd280":
        return f"observed, 0 FHC + 0 RHC events; {_CALCTYPE_TEXT.get(calctype, calctype)}"
    kind = "CLs+b" if calctype == "asymptotics_clsb" else "CLs"
    return f"expected, background-only Asimov data; {kind}, asymptotic formulae"


def _attach_figure(table: Any, detector: str, path: Path, inputs: Path) -> None:
    """Attach a figure to a table: image + thumbnail with ImageMagick, else a plain file."""
    if path.suffix.lower() not in (".png", ".pdf"):
        msg = f"figure {path} must be a PNG or PDF file"
        raise HEPDataError(msg)
    if not path.is_file():
        msg = f"figure {path} does not exist"
        raise DataFileError(msg)
    # hepdata_lib runs convert through a shell with unquoted paths: stage a safe name.
    staged = inputs / f"figure_{detector}{path.suffix.lower()}"
    shutil.copyfile(path, staged)
    if _has_imagemagick():
        table.add_image(str(staged))
    else:
        log.info("ImageMagick's convert not found: %s attached without a thumbnail", path)
        table.add_additional_resource(
            f"Figure ({_DETECTOR_TEXT[detector][1]})", str(staged), copy_file=True
        )


@functools.lru_cache(maxsize=1)
def _has_imagemagick() -> bool:
    """Whether ``convert`` on the PATH is ImageMagick (what hepdata_lib calls)."""
    exe = shutil.which("convert")
    if exe is None:
        return False
    try:
        result = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and "ImageMagick" in result.stdout


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


# --------------------------------------------------------------------------- validation
def validate(path: PathLike) -> None:
    """Validate a submission folder or archive with ``hepdata_validator`` (offline).

    Args:
        path: a submission folder (with ``submission.yaml``) or archive (``.tar.gz``,
            ``.zip``).

    Raises:
        HEPDataError: the submission is invalid; the message lists the validator's
            messages, by file.
    """
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    target = Path(path)
    validator = FullSubmissionValidator(autoload_remote_schemas=False)
    if target.is_dir():
        valid = validator.validate(directory=str(target))
    else:
        valid = validator.validate(archive=str(target))
    if valid:
        log.debug("%s is a valid HEPData submission", target)
        return
    lines = [
        f"{file}: {message.level} - {message.message}"
        for file, messages in validator.get_messages().items()
        for message in messages
    ]
    msg = f"HEPData validation of {target} failed:\n  " + "\n  ".join(lines or ["(no message)"])
    raise HEPDataError(msg)
