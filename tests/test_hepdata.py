"""HEPData submission: tables equal to the contour CSVs, merged pyhf patchsets, validation."""

from __future__ import annotations

import json
import shutil
import struct
import tarfile
import zlib
from pathlib import Path

import pyhf
import pytest
import yaml
from hepdata_validator.full_submission_validator import FullSubmissionValidator

from t2khnl import counting, hepdata
from t2khnl.errors import DataFileError, HEPDataError, T2KHNLError
from t2khnl.masses import mass_label
from t2khnl.patchsets import merge_patchsets
from t2khnl.scanstore import ScanStore, read_contour

HEADER = "mass_gev,d_low,d_high,d_low_err,d_high_err\n"
# nd280: a closed interval, a mass with nothing excluded, an interval open at the grid top
# (d_high = 1e-3, no MC error there).
ND280_CSV = HEADER + "0.1,2e-07,3.5e-05,1e-08,2.25e-06\n0.3,,,,\n0.5,1.5e-07,0.001,5e-09,\n"
# upgrade: a refused lower edge (empty) under a quoted upper edge.
UPGRADE_CSV = HEADER + "0.2,,4.5e-05,,1.5e-06\n0.4,3e-08,2.5e-05,2e-09,1e-06\n"
MASSES = (0.1, 0.5)
COUPLINGS = (1e-7, 1e-6)
BACKGROUND = {"fhc": 0.563, "rhc": 0.015}


def _csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _rows(text: str) -> list[list[float | None]]:
    return [
        [float(x) if x else None for x in line.split(",")] for line in text.strip().splitlines()[1:]
    ]


def _scan_patchsets(
    scan: Path, background: dict[str, dict[str, float]] | None = None, detector: str = "nd280"
) -> Path:
    """Per-mass bkgonly/patchset files as t2khnl.limit.run writes them."""
    for mass in MASSES:
        points = {(mass, d): {"fhc": 1e7 * d * mass, "rhc": 4e6 * d * mass} for d in COUPLINGS}
        bkg, patchset = counting.build_patchset(
            points,
            hepdata="ins0000000",
            observed=dict.fromkeys(BACKGROUND, 0.0),
            background=(background or {}).get(mass, BACKGROUND),
            flux_xsec=None,
        )
        folder = scan / "masses" / mass_label(mass)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"bkgonly_{detector}.json").write_text(counting.workspace_json(bkg))
        (folder / f"patchset_{detector}.json").write_text(counting.patchset_json(patchset))
    return scan


def _table(folder: Path, name: str) -> dict:
    docs = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    doc = next(d for d in docs if d and d.get("name") == name)
    return yaml.safe_load((folder / doc["data_file"]).read_text())


def _column(table: dict, header_start: str) -> dict:
    return next(
        v for v in table["dependent_variables"] if v["header"]["name"].startswith(header_start)
    )


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    return {
        "nd280": _csv(tmp_path / "nd280" / "contour.csv", ND280_CSV),
        "upgrade": _csv(tmp_path / "upgrade" / "contour.csv", UPGRADE_CSV),
        "scan": _scan_patchsets(tmp_path / "scan"),
    }


def test_submission_validates_and_tables_equal_the_csv(inputs, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # hepdata_lib writes its archive to the working directory
    archive = hepdata.write_submission(
        tmp_path / "out",
        {"nd280": inputs["nd280"], "upgrade": inputs["upgrade"]},
        patchsets={"nd280": inputs["scan"]},
        preset="corrected",
    )
    assert archive == tmp_path / "out" / "submission.tar.gz"
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "submission",
        "submission.tar.gz",
    ]
    for kwargs in ({"archive": str(archive)}, {"directory": str(archive.with_name("submission"))}):
        validator = FullSubmissionValidator(autoload_remote_schemas=False)
        assert validator.validate(**kwargs), validator.get_messages()

    folder = tmp_path / "out" / "submission"
    for name, text, short in (
        ("nd280", ND280_CSV, "ND280 2019"),
        ("upgrade", UPGRADE_CSV, "ND280 upgrade"),
    ):
        table = _table(folder, f"Excluded d_muN interval {short}")
        rows = _rows(text)
        mass = table["independent_variables"][0]
        assert mass["header"] == {"name": "$m_N$", "units": "GeV"}
        assert [v["value"] for v in mass["values"]] == [r[0] for r in rows]
        for i, edge in ((1, "$d_{\\mu N}$ lower"), (2, "$d_{\\mu N}$ upper")):
            column = _column(table, edge)
            assert column["header"]["units"] == "GeV^-1"
            assert [v["value"] for v in column["values"]] == [
                "-" if r[i] is None else r[i] for r in rows
            ]
            errors = [
                v["errors"][0]["symerror"] if "errors" in v else None for v in column["values"]
            ]
            assert errors == [r[i + 2] for r in rows]
            assert all(
                e["label"] == "MC stat" for v in column["values"] for e in v.get("errors", [])
            )
            qualifiers = {q["name"]: q for q in column["qualifiers"]}
            assert qualifiers["CL"]["value"] == "95%"
            assert qualifiers["preset"]["value"] == "corrected"
            assert qualifiers["coupling convention"]["value"].startswith("d_muN = mu_tr/2")
            assert qualifiers["exposure"]["units"] == "POT"
            assert qualifiers["detector"]["value"].startswith(
                "ND280 (2019" if name == "nd280" else "ND280 upgrade"
            )
    exposure = _column(_table(folder, "Excluded d_muN interval ND280 2019"), "$d")["qualifiers"]
    assert {
        "name": "exposure",
        "value": "1.234e+21 (FHC) + 6.29e+20 (RHC)",
        "units": "POT",
    } in exposure
    # d_high = 1e-3 is the top of the grid: open; the empty row has no flag
    nd280 = _table(folder, "Excluded d_muN interval ND280 2019")
    assert [v["value"] for v in _column(nd280, "upper edge open")["values"]] == [0, "-", 1]
    assert [v["value"] for v in _column(nd280, "lower edge open")["values"]] == [0, "-", 0]


def test_likelihood_archive_is_one_patchset_over_the_grid(inputs, tmp_path):
    hepdata.write_submission(
        tmp_path / "out",
        {"nd280": inputs["nd280"]},
        patchsets={"nd280": inputs["scan"]},
        preset="corrected",
    )
    folder = tmp_path / "out" / "submission"
    first = next(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    resource = next(r for r in first["additional_resources"] if r.get("type") == "HistFactory")
    assert resource["location"] == "likelihoods_nd280.tar.gz"
    with tarfile.open(folder / resource["location"]) as tar:
        assert sorted(tar.getnames()) == ["BkgOnly.json", "README.md", "patchset.json"]
        bkg = json.load(tar.extractfile("BkgOnly.json"))
        spec = json.load(tar.extractfile("patchset.json"))
    pyhf.schema.validate(spec, "patchset.json")
    patchset = pyhf.PatchSet(spec)
    patchset.verify(bkg)
    assert patchset.references == {"hepdata": "ins0000000"}
    assert sorted(p.values for p in patchset) == sorted((m, d) for m in MASSES for d in COUPLINGS)
    signal = {"fhc": 1e7 * 1e-6 * 0.5, "rhc": 4e6 * 1e-6 * 0.5}
    expected = counting.build_workspace(
        signal, background=BACKGROUND, observed=dict.fromkeys(BACKGROUND, 0.0), flux_xsec=None
    )
    assert dict(patchset.apply(bkg, (0.5, 1e-6))) == dict(expected)
    # with the same files given explicitly (one mass), the archive holds that mass only
    mass_dir = inputs["scan"] / "masses" / mass_label(0.1)
    hepdata.write_submission(
        tmp_path / "out",
        {"nd280": inputs["nd280"]},
        preset="corrected",
        patchsets={"nd280": (mass_dir / "bkgonly_nd280.json", mass_dir / "patchset_nd280.json")},
    )
    with tarfile.open(folder / "likelihoods_nd280.tar.gz") as tar:
        assert len(json.load(tar.extractfile("patchset.json"))["patches"]) == len(COUPLINGS)


def test_mismatched_bkgonly_workspaces_are_refused(tmp_path):
    scan = _scan_patchsets(tmp_path / "scan", background={0.5: {"fhc": 0.6, "rhc": 0.015}})
    pairs = ScanStore(scan).mass_likelihoods("nd280")
    with pytest.raises(
        HEPDataError,
        match=r"m000\.100000/bkgonly_nd280\.json and .*m000\.500000/bkgonly_"
        r"nd280\.json differ \(at /channels/0/samples/0/data/0\)",
    ):
        merge_patchsets(pairs)


def test_patchset_of_another_workspace_is_refused(tmp_path):
    scan = _scan_patchsets(tmp_path / "scan")
    (bkg_a, _), (_, patch_b) = ScanStore(scan).mass_likelihoods("nd280")
    other = _scan_patchsets(tmp_path / "other", background={0.1: {"fhc": 1.0, "rhc": 1.0}})
    (bkg_other, _), _ = ScanStore(other).mass_likelihoods("nd280")
    with pytest.raises(HEPDataError, match=r"patchset_nd280\.json was not made for"):
        merge_patchsets([(bkg_other, patch_b)])
    with pytest.raises(HEPDataError, match=r"patch 'm0p1_d1em07' of .* is already in"):
        merge_patchsets(
            [(bkg_a, scan / "masses" / mass_label(0.1) / "patchset_nd280.json")] * 2
        )


def test_contour_missing_a_column_names_the_file(tmp_path):
    bad = _csv(tmp_path / "bad.csv", "mass_gev,d_low,d_high,d_low_err\n0.1,2e-07,3e-05,1e-08\n")
    with pytest.raises(DataFileError, match=r"bad\.csv lacks the column\(s\) d_high_err"):
        read_contour(bad)
    with pytest.raises(T2KHNLError, match=r"bad\.csv"):
        hepdata.write_submission(tmp_path / "out", {"nd280": bad}, preset="corrected")
    assert not (tmp_path / "out").exists()


def test_contour_with_a_bad_number_names_file_and_line(tmp_path):
    bad = _csv(tmp_path / "c.csv", HEADER + "0.1,2e-07,3e-05,,\n0.2,abc,,,\n")
    with pytest.raises(DataFileError, match=r"c\.csv, line 3: d_low = 'abc'"):
        read_contour(bad)
    with pytest.raises(DataFileError, match=r"nowhere\.csv"):
        read_contour(tmp_path / "nowhere.csv")


def _contour_json(
    path: Path, text: str, *, preset: str = "corrected", high_open: bool | None = False
) -> None:
    records = [
        {
            "mass_gev": r[0],
            "d_low": r[1],
            "d_high": r[2],
            "d_low_err": r[3],
            "d_high_err": r[4],
            "d_low_open": False,
            "d_high_open": high_open,
            "status": "done",
            "reason": None,
        }
        for r in _rows(text)
    ]
    records.append({"mass_gev": 9.0, "status": "skipped", "reason": "too heavy"})
    path.write_text(
        json.dumps(
            {
                "metadata": {"detector": "nd280", "preset": preset, "pot_total": 3e21},
                "records": records,
            }
        )
    )


def test_contour_json_gives_flags_preset_and_exposure(inputs, tmp_path):
    _contour_json(
        inputs["nd280"].with_suffix(".json"), ND280_CSV, preset="published", high_open=False
    )
    contour = read_contour(inputs["nd280"].parent)  # a scan folder works too
    assert [r.d_high_open for r in contour.rows] == [False, False, False]
    hepdata.write_submission(tmp_path / "out", {"nd280": inputs["nd280"]})
    table = _table(tmp_path / "out" / "submission", "Excluded d_muN interval ND280 2019")
    assert [v["value"] for v in _column(table, "upper edge open")["values"]] == [0, "-", 0]
    qualifiers = {q["name"]: q["value"] for q in _column(table, "$d")["qualifiers"]}
    assert qualifiers["preset"] == "published"
    assert qualifiers["exposure"] == "1.987e+21 (FHC) + 1.013e+21 (RHC)"
    assert qualifiers["statistics"].endswith("CLs+b, asymptotic formulae")
    with pytest.raises(
        HEPDataError,
        match=r"preset 'corrected' was asked for, but "
        r".*contour\.csv comes from preset",
    ):
        hepdata.write_submission(tmp_path / "out2", {"nd280": inputs["nd280"]}, preset="corrected")
    with pytest.raises(HEPDataError, match=r"is a nd280 contour, given as 'upgrade'"):
        hepdata.write_submission(tmp_path / "out2", {"upgrade": inputs["nd280"]})


def test_contour_json_that_disagrees_with_the_csv_is_refused(inputs):
    _contour_json(inputs["nd280"].with_suffix(".json"), ND280_CSV.replace("3.5e-05", "3.6e-05"))
    with pytest.raises(DataFileError, match=r"disagree on d_high at m_N = 0\.1"):
        read_contour(inputs["nd280"])


def test_bad_arguments(inputs, tmp_path):
    with pytest.raises(HEPDataError, match=r"unknown detector\(s\) 'sk'"):
        hepdata.write_submission(tmp_path / "o", {"sk": inputs["nd280"]}, preset="corrected")
    with pytest.raises(HEPDataError, match="give preset="):
        hepdata.write_submission(tmp_path / "o", {"nd280": inputs["nd280"]})
    with pytest.raises(HEPDataError, match="inspire_id"):
        hepdata.write_submission(
            tmp_path / "o", {"nd280": inputs["nd280"]}, preset="corrected", inspire_id="1234567"
        )
    (tmp_path / "o" / "submission").mkdir(parents=True)
    (tmp_path / "o" / "submission" / "notes.txt").write_text("mine")
    with pytest.raises(HEPDataError, match="not a HEPData submission folder"):
        hepdata.write_submission(tmp_path / "o", {"nd280": inputs["nd280"]}, preset="corrected")
    assert (tmp_path / "o" / "submission" / "notes.txt").read_text() == "mine"


def test_inspire_id_goes_to_record_ids_and_patchset(inputs, tmp_path):
    hepdata.write_submission(
        tmp_path / "out",
        {"nd280": inputs["nd280"]},
        patchsets={"nd280": inputs["scan"]},
        preset="corrected",
        inspire_id="ins2345678",
    )
    folder = tmp_path / "out" / "submission"
    first = next(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    assert first["record_ids"] == [{"id": 2345678, "type": "inspire"}]
    with tarfile.open(folder / "likelihoods_nd280.tar.gz") as tar:
        spec = json.load(tar.extractfile("patchset.json"))
    assert spec["metadata"]["references"] == {"hepdata": "ins2345678"}


def test_validate_reports_the_validator_messages(inputs, tmp_path):
    archive = hepdata.write_submission(
        tmp_path / "out", {"nd280": inputs["nd280"]}, preset="corrected"
    )
    folder = archive.with_name("submission")
    hepdata.validate(folder)
    (folder / "stray.txt").write_text("not referenced")
    with pytest.raises(
        HEPDataError,
        match=r"(?s)validation of .*submission failed.*stray\.txt is not "
        r"referenced in the submission",
    ):
        hepdata.validate(folder)
    data_file = next(folder.glob("excluded*.yaml"))
    data_file.write_text(data_file.read_text().replace("dependent_variables", "dependents"))
    with pytest.raises(HEPDataError, match=r"excluded_d_mun_interval_nd280_2019\.yaml"):
        hepdata.validate(folder)


def _png(path: Path) -> Path:
    """A 2x2 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * 2 for _ in range(2))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def _table_resources(folder: Path) -> list[dict]:
    docs = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    return next(d for d in docs if d and "data_file" in d).get("additional_resources", [])


def test_figure_without_imagemagick_is_a_plain_resource(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(hepdata, "_has_imagemagick", lambda: False)
    figure = _png(tmp_path / "my fig.png")
    hepdata.write_submission(
        tmp_path / "out", {"nd280": inputs["nd280"]}, figures={"nd280": figure}, preset="corrected"
    )
    folder = tmp_path / "out" / "submission"
    assert _table_resources(folder) == [
        {"description": "Figure (ND280 (2019 data set))", "location": "figure_nd280.png"}
    ]
    assert (folder / "figure_nd280.png").read_bytes() == figure.read_bytes()
    with pytest.raises(HEPDataError, match="without a contour"):
        hepdata.write_submission(
            tmp_path / "o",
            {"nd280": inputs["nd280"]},
            figures={"upgrade": figure},
            preset="corrected",
        )


def test_figure_with_imagemagick_becomes_the_table_image(inputs, tmp_path, monkeypatch):
    import hepdata_lib.helpers

    calls = []

    def fake_convert(source, target):
        calls.append(Path(target).name)
        shutil.copyfile(source, target)

    monkeypatch.setattr(hepdata, "_has_imagemagick", lambda: True)
    monkeypatch.setattr(hepdata_lib.helpers, "convert_pdf_to_png", fake_convert)
    monkeypatch.setattr(hepdata_lib.helpers, "convert_png_to_thumbnail", fake_convert)
    hepdata.write_submission(
        tmp_path / "out",
        {"nd280": inputs["nd280"]},
        figures={"nd280": _png(tmp_path / "fig.png")},
        preset="corrected",
    )
    assert calls == ["figure_nd280.png", "thumb_figure_nd280.png"]
    assert _table_resources(tmp_path / "out" / "submission") == [
        {"description": "Image file", "location": "figure_nd280.png"},
        {"description": "Thumbnail image file", "location": "thumb_figure_nd280.png"},
    ]
    with tarfile.open(tmp_path / "out" / "submission.tar.gz") as tar:
        assert {"figure_nd280.png", "thumb_figure_nd280.png"} <= set(tar.getnames())


def test_submission_from_a_scan_folder(tmp_path):
    import _fake_limit

    from t2khnl import scan

    out = tmp_path / "scan"
    scan.scan(
        "nd280", "0.1,0.3", output_dir=out, runner=_fake_limit.run, progress=False, n_events=300
    )
    _scan_patchsets(out)  # the fake limit step writes no likelihoods
    hepdata.write_submission(tmp_path / "hep", {"nd280": out}, patchsets={"nd280": out})
    contour = read_contour(out / "contour.csv")
    assert contour.metadata["preset"] == "corrected"
    table = _table(tmp_path / "hep" / "submission", "Excluded d_muN interval ND280 2019")
    assert [v["value"] for v in table["independent_variables"][0]["values"]] == [0.1, 0.3]
    low = [v["value"] for v in _column(table, "$d_{\\mu N}$ lower")["values"]]
    assert low == [float(f"{r.d_low:.6g}") for r in contour.rows]  # 6 significant digits
