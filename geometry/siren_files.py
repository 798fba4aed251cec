"""SIREN-format geometry files: parse the base model's files, apply a variant, cache them.

:func:`materialise` writes a variant's ``densities.dat`` and ``materials.dat`` into a cache
folder (``$T2KHNL_CACHE_DIR``, else ``$XDG_CACHE_HOME/t2khnl``, else ``~/.cache/t2khnl``,
then ``geometry/``) keyed by a hash of the base files and the recipe.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2khnl._siren import load as load_siren
from t2khnl.errors import DataFileError
from t2khnl.files import apply_folder_mode

from .spec import PDG_RE

logger = logging.getLogger(__name__)

#: Version of the materialisation format; part of the cache hash.
_FORMAT_VERSION = 1


def _base_dir(base: str) -> Path:
    kind, _, rel = base.partition(":")
    if kind.strip() != "siren" or not rel.strip():
        msg = f"geometry base {base!r} must read 'siren:<Detector>/<Detector-version>'"
        raise DataFileError(msg)
    siren_util = load_siren()._util

    path = Path(siren_util.resource_package_dir()) / "detectors" / rel.strip()
    for fname in ("densities.dat", "materials.dat"):
        if not (path / fname).is_file():
            msg = f"the installed siren has no {fname} for base {base!r} (looked in {path})"
            raise DataFileError(msg)
    return path


@dataclass
class _Object:
    """One ``object`` line of a densities file."""

    raw: str
    shape: str
    coords: list[str]
    label: str
    material: str
    distribution: list[str]
    comment: str
    modified: bool = False

    def render(self) -> str:
        if not self.modified:
            return self.raw
        text = " ".join(
            ["object", self.shape, *self.coords, self.label, self.material, *self.distribution]
        )
        return f"{text}   # t2khnl: {self.comment}" if self.comment else text


def _parse_densities(text: str) -> list[str | _Object]:
    out: list[str | _Object] = []
    for raw in text.splitlines():
        body = raw.split("#", 1)[0]
        tokens = body.split()
        if not tokens or raw[:1].isspace() or tokens[0] != "object":
            out.append(raw)
            continue
        shape = tokens[1]
        n_coords = {"box": 9, "sphere": 7}.get(shape)
        if n_coords is None:
            msg = f"unsupported shape {shape!r} in densities line: {raw!r}"
            raise DataFileError(msg)
        coords = tokens[2 : 2 + n_coords]
        label, material = tokens[2 + n_coords], tokens[3 + n_coords]
        out.append(_Object(raw, shape, coords, label, material, tokens[4 + n_coords :], ""))
    return out


@dataclass
class _Material:
    """One material block of a materials file."""

    name: str
    header_raw: str
    declared_count: int | None
    components: list[tuple[int, float, str]]
    modified: bool = False
    comment: str = ""

    def render(self) -> list[str]:
        if not self.modified:
            return [self.header_raw, *(raw for _, _, raw in self.components)]
        head = f"{self.name} {len(self.components)}"
        if self.comment:
            head += f"   # t2khnl: {self.comment}"
        return [head, *(f"{pdg}  {w!r}" for pdg, w, _ in self.components)]


def _parse_materials(text: str) -> list[str | _Material]:
    out: list[str | _Material] = []
    current: _Material | None = None
    for raw in text.splitlines():
        tokens = raw.split("#", 1)[0].split()
        if not tokens or raw[:1].isspace():
            out.append(raw)
            current = None
            continue
        if PDG_RE.match(tokens[0]) and len(tokens) >= 2 and current is not None:
            current.components.append((int(tokens[0]), float(tokens[1]), raw))
            continue
        count = int(tokens[1]) if len(tokens) > 1 and tokens[1].isdigit() else None
        current = _Material(tokens[0], raw, count, [])
        out.append(current)
    return out


def _apply_variant(
    densities: list[str | _Object],
    materials: list[str | _Material],
    var: Mapping[str, Any],
    where: str,
) -> list[str | _Object]:
    objects = [o for o in densities if isinstance(o, _Object)]
    for rule in var.get("sectors", []):
        pattern = rule["match"]
        hits = [o for o in objects if fnmatch.fnmatchcase(o.label, pattern)]
        expected = rule.get("expect")
        if not hits or (expected is not None and len(hits) != expected):
            msg = (
                f"{where}: sector rule {pattern!r} matched {len(hits)} sectors"
                f" (expected {expected if expected is not None else '>= 1'})"
            )
            raise DataFileError(msg)
        for o in hits:
            if "density" in rule:
                if o.distribution[:1] != ["constant"]:
                    msg = f"{where}: sector {o.label} has no constant density to override"
                    raise DataFileError(msg)
                o.distribution = ["constant", repr(float(rule["density"]))]
            if "material" in rule:
                o.material = str(rule["material"])
            o.comment = str(rule.get("why", "modified")).replace("\n", " ")[:160]
            o.modified = True
    removed: set[str] = set()
    for pattern in var.get("remove_sectors", []):
        labels = {o.label for o in objects if fnmatch.fnmatchcase(o.label, pattern)}
        if not labels:
            msg = f"{where}: remove_sectors pattern {pattern!r} matched nothing"
            raise DataFileError(msg)
        removed |= labels
    result: list[str | _Object] = [
        o for o in densities if not (isinstance(o, _Object) and o.label in removed)
    ]
    added = []
    for item in var.get("add_sectors", []):
        c, w = item["centre"], item["widths"]
        coords = [*map(repr, map(float, c)), "0", "0", "0", *map(repr, map(float, w))]
        obj = _Object(
            "",
            "box",
            coords,
            item["name"],
            item["material"],
            ["constant", repr(float(item["density"]))],
            item.get("why", "added"),
            modified=True,
        )
        added.append(obj)
    if added:
        # Later objects win overlaps, so additions go after every base object.
        last = max(i for i, o in enumerate(result) if isinstance(o, _Object))
        result[last + 1 : last + 1] = added

    by_name = {m.name: m for m in materials if isinstance(m, _Material)}
    for mat_name, rule in var.get("materials", {}).items():
        rule = rule or {}
        comment = str(rule.get("why", "modified")).replace("\n", " ")[:160]
        if "components" in rule:
            comps = [(int(k), float(v), "") for k, v in rule["components"].items()]
            total = sum(w for _, w, _ in comps)
            if abs(total - 1.0) > 1e-6:
                msg = f"{where}: mass fractions of {mat_name} sum to {total}, not 1"
                raise DataFileError(msg)
            if mat_name in by_name:
                mat = by_name[mat_name]
                mat.components = comps
            else:
                mat = _Material(mat_name, "", None, comps)
                materials.append("")
                materials.append(mat)
                by_name[mat_name] = mat
            mat.modified, mat.comment = True, comment
        elif rule.get("fix_component_count"):
            fixable = by_name.get(mat_name)
            if fixable is None or fixable.declared_count is not None:
                msg = f"{where}: {mat_name} has no missing component count to fix"
                raise DataFileError(msg)
            fixable.modified, fixable.comment = True, comment
        else:
            msg = f"{where}: material rule for {mat_name} needs 'components' or a fix"
            raise DataFileError(msg)
    return result


def cache_root() -> Path:
    """Folder under which materialised geometries are cached.

    Returns:
        ``$T2KHNL_CACHE_DIR/geometry``, else ``$XDG_CACHE_HOME/t2khnl/geometry``, else
        ``~/.cache/t2khnl/geometry``.
    """
    env = os.environ.get("T2KHNL_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "geometry"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "t2khnl" / "geometry"


def materialise(
    name: str,
    variant: str,
    spec: Mapping[str, Any],
    var: Mapping[str, Any],
    cache_dir: Path,
) -> tuple[Path, Path]:
    base_dir = _base_dir(spec["base"])
    dens_text = (base_dir / "densities.dat").read_text(encoding="utf-8")
    mat_text = (base_dir / "materials.dat").read_text(encoding="utf-8")
    recipe = {
        "format": _FORMAT_VERSION,
        "name": name,
        "variant": variant,
        "var": var,
        "fiducial": spec["fiducial"] if var.get("fiducial") is None else var["fiducial"],
    }
    digest = hashlib.sha256()
    for part in (dens_text, mat_text, json.dumps(recipe, sort_keys=True, default=str)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    folder = cache_dir / f"{name}-{variant}-{digest.hexdigest()[:16]}"
    dens_path, mat_path = folder / "densities.dat", folder / "materials.dat"
    if dens_path.is_file() and mat_path.is_file():
        logger.debug("geometry %s/%s: using cached %s", name, variant, folder)
        return dens_path, mat_path

    where = f"{name}.yaml variant {variant!r}"
    densities = _parse_densities(dens_text)
    materials = _parse_materials(mat_text)
    densities = _apply_variant(densities, materials, var, where)
    header = [
        f"# t2khnl geometry {name}/{variant}: generated from {spec['base']} by t2khnl.geometry",
        f"# ({base_dir}); the corrections are listed in geometry/{name}.yaml. Do not edit.",
    ]
    dens_lines: list[str] = [*header]
    for item in densities:
        if isinstance(item, _Object):
            dens_lines.append(item.render())
        elif item.split("#", 1)[0].split()[:1] == ["fiducial"]:
            # SIREN models carry one fiducial box; ours are listed in the YAML instead.
            dens_lines.append(f"# t2khnl: base fiducial volume dropped: {item.strip()}")
        else:
            dens_lines.append(item)
    mat_lines: list[str] = [*header]
    for m in materials:
        mat_lines.extend(m.render() if isinstance(m, _Material) else [m])

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = apply_folder_mode(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    (tmp / "densities.dat").write_text("\n".join(dens_lines) + "\n", encoding="utf-8")
    (tmp / "materials.dat").write_text("\n".join(mat_lines) + "\n", encoding="utf-8")
    (tmp / "recipe.json").write_text(
        json.dumps({**recipe, "base_dir": str(base_dir)}, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    try:
        tmp.rename(folder)
    except OSError:
        # Another process materialised the same recipe first: keep theirs.
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    logger.info("geometry %s/%s materialised in %s", name, variant, folder)
    return dens_path, mat_path
