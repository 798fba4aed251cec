"""Events for detector simulations (:mod:`t2khnl.export`): NuHepMC read back with pyhepmc,
rooTracker read back the way edep-sim reads it, HEPEVT parsed the way edep-sim's 'marley'
flavour does, unweighted samples against the weighted ones, and bad inputs.

The expected records are rebuilt here from the ntuple's branches, independently of
:mod:`t2khnl.export.records`.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

import t2khnl.export as exporting
from t2khnl import cli, generate, model, ntuple
from t2khnl.export import hepevt, sample

C = 299_792_458.0  # m/s
M_E = 0.51099895000e-3  # GeV
MASS_GEV, D_GEV_INV = 0.47, 1.25e-6


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A real ND280 FHC sample at the CLI's default model point (~500 events)."""
    run = generate.simulate("nd280", "fhc", MASS_GEV, D_GEV_INV, n_events=2000, seed=5)
    path = tmp_path_factory.mktemp("ntuple") / "nd280_fhc.root"
    ntuple.write(path, run.events, run.metadata)
    events, meta = ntuple.read(path)
    assert len(events) > 200
    return path, events, meta


def _col(events, name):
    return ak.to_numpy(events[name]).astype(float)


def _p4(events, prefix):
    """(px, py, pz, E) [GeV] of one particle, from the ntuple."""
    return np.column_stack([_col(events, f"{prefix}_{c}") for c in ("px", "py", "pz", "e")])


def _expected(events):
    """The seven particles of each event, from the ntuple: pdg (n, 7), p4 (n, 7, 4)."""
    n = len(events)
    e_nu = _col(events, "e_nu")
    direction = np.column_stack([_col(events, f"nu_d{a}") for a in "xyz"])
    nu = np.column_stack([direction * e_nu[:, None], e_nu])
    target = np.column_stack([np.zeros((n, 3)), _col(events, "target_mass_gev")])
    hnl = _p4(events, "hnl")
    recoil = nu + target - hnl
    # what the neutrino scattered on: the nucleus (coherent), else the struck nucleon
    channel = ak.to_numpy(events["channel"])
    nucleus = ak.to_numpy(events["target_pdg"])
    scatterer = np.where(channel == 1, 2212, np.where(channel == 2, 2112, nucleus))
    hnl_pdg = ak.to_numpy(events["hnl_pdg"])
    # the beam's wrong-sign nu_mu-bar makes an N-bar (-5914), which decays to nu_mu-bar
    assert np.all(np.sign(hnl_pdg) == np.sign(ak.to_numpy(events["nu_pdg"])))
    pdg = np.column_stack([ak.to_numpy(events["nu_pdg"]), scatterer, hnl_pdg, scatterer,
                           14 * np.sign(hnl_pdg), np.full(n, -11), np.full(n, 11)])
    p4 = np.stack([nu, target, hnl, recoil, _p4(events, "dnu"), _p4(events, "ep"),
                   _p4(events, "em")], axis=1)
    return pdg, p4


def _vertices(events):
    """Upscatter and decay points [m], and the decay time [s] (t = 0 at the upscatter)."""
    up = np.column_stack([_col(events, f"vtx_{a}") for a in "xyz"])
    dec = np.column_stack([_col(events, f"dec_{a}") for a in "xyz"])
    hnl = _p4(events, "hnl")
    beta = np.linalg.norm(hnl[:, :3], axis=1) / hnl[:, 3]
    return up, dec, np.linalg.norm(dec - up, axis=1) / (beta * C)


def _ee_expected(events, meta, pot):
    br = model.br_ee(MASS_GEV, "exact")
    return _col(events, "weight").sum() * pot * br / (1 + br)  # corrected: Gamma_ee / total


def _run(args):
    return CliRunner().invoke(cli.main, ["export", *args])


def _exported(simulated, out, fmt, *options):
    """Run ``t2khnl export`` on the simulated ntuple; its events and metadata."""
    path, events, meta = simulated
    result = _run(["--input", str(path), "--format", fmt, "--output", str(out), *options])
    assert result.exit_code == 0, result.output
    return events, meta


# --------------------------------------------------------------------------- NuHepMC
def test_nuhepmc_read_back(simulated, tmp_path):
    hp = pytest.importorskip("pyhepmc")
    out = tmp_path / "events.hepmc3"
    events, meta = _exported(simulated, out, "nuhepmc")
    pdg, p4 = _expected(events)
    up, dec, t_dec = _vertices(events)
    read = []
    with hp.open(out) as f:
        for event in f:
            read.append(event)
            i = event.event_number
            assert event.momentum_unit == hp.Units.GEV and event.length_unit == hp.Units.MM
            particles = event.particles
            assert [p.pid for p in particles] == list(pdg[i])
            assert [p.status for p in particles] == [4, 20, 2, 1, 1, 1, 1]
            got = np.array([[p.momentum.px, p.momentum.py, p.momentum.pz, p.momentum.e]
                            for p in particles])
            assert got == pytest.approx(p4[i], rel=1e-14, abs=1e-15)
            upscatter, decay = event.vertices
            assert (upscatter.status, decay.status) == (1, 31)
            assert [p.id for p in upscatter.particles_in] == [1, 2]
            assert [p.id for p in upscatter.particles_out] == [3, 4]
            assert [p.id for p in decay.particles_in] == [3]
            assert [p.id for p in decay.particles_out] == [5, 6, 7]
            for vertex, point, t in ((upscatter, up[i], 0.0), (decay, dec[i], t_dec[i])):
                pos = vertex.position
                assert [pos.x, pos.y, pos.z] == pytest.approx(point * 1000, abs=1e-9)
                assert pos.t == pytest.approx(t * C * 1000, rel=1e-12, abs=1e-12)
            # four-momentum conservation at both vertices, 1e-9 relative
            for vertex in (upscatter, decay):
                into = sum(np.array(list(p.momentum)) for p in vertex.particles_in)
                out_of = sum(np.array(list(p.momentum)) for p in vertex.particles_out)
                assert np.abs(out_of - into).max() <= 1e-9 * into[3]
            recoil = particles[3]
            assert recoil.momentum.m() == pytest.approx(p4[i, 1, 3], rel=1e-9)  # on shell
            assert event.attributes["signal_process_id"].astype(int) == -750
            lab_pos = event.attributes["lab_pos"].astype(list[float])
            assert lab_pos == pytest.approx([*(up[i] * 1000), 0.0], abs=1e-9)
            assert event.attributes["t2khnl.ntuple_entry"].astype(int) == i
    assert len(read) == len(events)
    assert [e.event_number for e in read] == list(range(len(events)))

    weights = np.array([e.weights[0] for e in read])
    pot = meta["nominal_pot"]
    assert weights.sum() == pytest.approx(_ee_expected(events, meta, pot), rel=1e-12)
    br = model.br_ee(MASS_GEV, "exact")
    assert weights / (pot * br / (1 + br)) == pytest.approx(_col(events, "weight"), rel=1e-12)

    info = read[-1].run_info
    assert info.weight_names == ["CV"]
    assert {t.name for t in info.tools} == {"t2khnl", "SIREN", "DarkNews"}
    assert all(t.version for t in info.tools)
    attrs = info.attributes

    def get(name, kind):
        return attrs[name].astype(kind)

    assert [get(f"NuHepMC.Version.{k}", int) for k in ("Major", "Minor", "Patch")] == [1, 0, 0]
    conventions = get("NuHepMC.Conventions", list[str])
    assert {"G.C.1", "G.C.2", "E.C.1", "E.C.5"} <= set(conventions)
    assert get("NuHepMC.Exposure.POT", float) == pot
    fatx = get("NuHepMC.FluxAveragedTotalCrossSection", float)
    assert fatx * pot == pytest.approx(weights.sum(), rel=1e-12)
    assert get("NuHepMC.Units.CrossSection.Unit", str) == "1/POT"
    assert get("NuHepMC.Units.CrossSection.TargetScale", str)
    assert get("NuHepMC.ProcessIDs", list[int]) == [-750]
    for kind, ids in (("Vertex", [1, 31]), ("Particle", [1, 2, 4, 20])):
        assert get(f"NuHepMC.{kind}StatusIDs", list[int]) == ids
        for status in ids:
            assert get(f"NuHepMC.{kind}StatusInfo[{status}].Name", str)
            assert get(f"NuHepMC.{kind}StatusInfo[{status}].Description", str)
    assert get("NuHepMC.ProcessInfo[-750].Name", str)
    assert get("NuHepMC.AdditionalParticleNumbers", list[int]) == [5914, -5914]
    assert get("NuHepMC.AdditionalParticleNumber[5914].Name", str) == "N4"
    assert get("NuHepMC.AdditionalParticleNumber[5914].t2khnl.Mass", float) == MASS_GEV
    assert get("t2khnl.mass_gev", float) == MASS_GEV
    assert get("t2khnl.d_gev_inv", float) == D_GEV_INV
    assert get("t2khnl.expected_hnl_decays", float) == pytest.approx(
        _col(events, "weight").sum() * pot, rel=1e-12)
    assert json.loads(get("NuHepMC.Provenance.t2khnl.NtupleMetadata", str)) == meta


# --------------------------------------------------------------------------- rooTracker
_EDEPSIM_LIKE_READER = r"""
#include <memory>
#include <string>
#include <vector>
#include <TBits.h>
#include <TFile.h>
#include <TObjString.h>
#include <TTree.h>

namespace t2khnl_test {
// The variables and SetBranchAddress calls of edep-sim's RooTrackerKinematicsGenerator.
struct Buffers {
    static const int kNPmax = 4000;
    TBits* flags = nullptr; TObjString* code = nullptr;
    int evtNum; double xsec, dxsec, wght, prob, vtx[4];
    int n, pdg[kNPmax], status[kNPmax];
    double x4[kNPmax][4], p4[kNPmax][4], polz[kNPmax][3];
    int fd[kNPmax], ld[kNPmax], fm[kNPmax], lm[kNPmax];
    int parentPdg, parentMode, parentNVtx;
    double decP4[4], decX4[4], proP4[4], proX4[4];
};
struct Content {
    std::vector<int> codes, ints;          // SetBranchAddress results; per event: EvtNum, StdHepN
    std::vector<int> pdg, status, family;  // per particle; family: Fd Ld Fm Lm
    std::vector<double> evt, x4, p4, polz, parent;  // evt: XSec DXSec Wght Prob Vtx[4]
    std::vector<std::string> evtCode;
    int nullObjects = 0;
};
Content read(const char* path) {
    Content out;
    std::unique_ptr<TFile> file(TFile::Open(path, "OLD"));
    TTree* tree = dynamic_cast<TTree*>(file->Get("gRooTracker"));
    auto b = std::make_unique<Buffers>();
    out.codes = {
        tree->SetBranchAddress("EvtFlags", &b->flags), tree->SetBranchAddress("EvtCode", &b->code),
        tree->SetBranchAddress("EvtNum", &b->evtNum), tree->SetBranchAddress("EvtXSec", &b->xsec),
        tree->SetBranchAddress("EvtDXSec", &b->dxsec), tree->SetBranchAddress("EvtWght", &b->wght),
        tree->SetBranchAddress("EvtProb", &b->prob), tree->SetBranchAddress("EvtVtx", b->vtx),
        tree->SetBranchAddress("StdHepN", &b->n), tree->SetBranchAddress("StdHepPdg", b->pdg),
        tree->SetBranchAddress("StdHepStatus", b->status),
        tree->SetBranchAddress("StdHepX4", b->x4), tree->SetBranchAddress("StdHepP4", b->p4),
        tree->SetBranchAddress("StdHepPolz", b->polz), tree->SetBranchAddress("StdHepFd", b->fd),
        tree->SetBranchAddress("StdHepLd", b->ld), tree->SetBranchAddress("StdHepFm", b->fm),
        tree->SetBranchAddress("StdHepLm", b->lm),
        tree->SetBranchAddress("NuParentPdg", &b->parentPdg),
        tree->SetBranchAddress("NuParentDecMode", &b->parentMode),
        tree->SetBranchAddress("NuParentDecP4", b->decP4),
        tree->SetBranchAddress("NuParentDecX4", b->decX4),
        tree->SetBranchAddress("NuParentProP4", b->proP4),
        tree->SetBranchAddress("NuParentProX4", b->proX4),
        tree->SetBranchAddress("NuParentProNVtx", &b->parentNVtx)};
    for (Long64_t entry = 0; entry < tree->GetEntries(); ++entry) {
        tree->GetEntry(entry);
        if (!b->flags || !b->code) ++out.nullObjects;
        out.evtCode.push_back(b->code ? b->code->String().Data() : "");
        out.ints.push_back(b->evtNum); out.ints.push_back(b->n);
        for (double v : {b->xsec, b->dxsec, b->wght, b->prob}) out.evt.push_back(v);
        for (double v : b->vtx) out.evt.push_back(v);
        for (int i = 0; i < b->n; ++i) {
            out.pdg.push_back(b->pdg[i]); out.status.push_back(b->status[i]);
            for (int v : {b->fd[i], b->ld[i], b->fm[i], b->lm[i]}) out.family.push_back(v);
            for (int k = 0; k < 4; ++k) {
                out.x4.push_back(b->x4[i][k]); out.p4.push_back(b->p4[i][k]);
            }
            for (int k = 0; k < 3; ++k) out.polz.push_back(b->polz[i][k]);
        }
        out.parent.push_back(b->parentPdg); out.parent.push_back(b->parentMode);
        out.parent.push_back(b->parentNVtx);
        for (const double* a : {b->decP4, b->decX4, b->proP4, b->proX4})
            for (int k = 0; k < 4; ++k) out.parent.push_back(a[k]);
    }
    return out;
}
}
"""


def _edepsim_like_read(root, path):
    if not hasattr(root, "t2khnl_test"):
        assert root.gInterpreter.Declare(_EDEPSIM_LIKE_READER)
    return root.t2khnl_test.read(str(path))


def test_rootracker_read_like_edep_sim(simulated, tmp_path):
    root = pytest.importorskip("ROOT")
    out = tmp_path / "events.rootracker.root"
    events, meta = _exported(simulated, out, "rootracker")
    content = _edepsim_like_read(root, out)
    assert list(content.codes) == [0] * 25  # every branch: exact type match (kMatch)
    assert content.nullObjects == 0
    n = len(events)
    pdg, p4 = _expected(events)
    up, dec, t_dec = _vertices(events)
    ints = np.array(list(content.ints)).reshape(n, 2)
    assert list(ints[:, 0]) == list(range(n)) and np.all(ints[:, 1] == 7)
    assert np.array(list(content.pdg)).reshape(n, 7).tolist() == pdg.tolist()
    assert np.all(np.array(list(content.status)).reshape(n, 7) == [0, 0, 3, 15, 1, 1, 1])
    family = np.array(list(content.family)).reshape(n, 7, 4)
    assert family[0].tolist() == [[2, 3, -1, -1], [2, 3, -1, -1], [4, 6, 0, 1], [-1, -1, 0, 1],
                                  [-1, -1, 2, 2], [-1, -1, 2, 2], [-1, -1, 2, 2]]
    assert np.all(family == family[0])
    assert np.array(list(content.p4)).reshape(n, 7, 4) == pytest.approx(p4, rel=1e-15,
                                                                         abs=1e-16)
    evt = np.array(list(content.evt)).reshape(n, 8)
    assert np.all(evt[:, :2] == 0.0)
    pot = meta["nominal_pot"]
    assert evt[:, 2].sum() == pytest.approx(_ee_expected(events, meta, pot), rel=1e-12)
    assert evt[:, 3] == pytest.approx(_col(events, "decay_probability"), rel=1e-15)
    assert evt[:, 4:7] == pytest.approx(dec, abs=1e-15)  # EvtVtx: the decay point [m]
    assert evt[:, 7] == pytest.approx(t_dec, rel=1e-12)  # [s]
    x4 = np.array(list(content.x4)).reshape(n, 7, 4)
    for k in range(7):
        point, t = (up, 0.0) if k < 4 else (dec, t_dec)
        assert x4[:, k, :3] == pytest.approx(point, abs=1e-15)
        assert x4[:, k, 3] == pytest.approx(t, rel=1e-12, abs=1e-30)
    assert not np.any(list(content.polz)) and not np.any(list(content.parent))
    nucleus = ak.to_numpy(events["target_pdg"])
    for code, nu, tgt, struck in zip(content.evtCode, pdg[:, 0], nucleus, pdg[:, 1],
                                     strict=True):
        hit = "" if struck == tgt else f"N:{struck};"
        assert code.startswith(f"nu:{nu};tgt:{tgt};{hit}proc:EM[dipole],"), code
    with root.TFile.Open(str(out)) as file:
        header = json.loads(file.Get("header").GetString().Data())
    assert header["expected_hnl_decays"] == pytest.approx(_col(events, "weight").sum() * pot,
                                                          rel=1e-12)
    assert header["mass_gev"] == MASS_GEV and header["mode"] == "weighted"


# --------------------------------------------------------------------------- HEPEVT
def _read_hepevt(path):
    """Events as edep-sim's 'marley' flavour reads them: '#' starts a comment, a 2-token
    line opens an event, then one 15-token line per particle."""
    lines = [line.split("#")[0].split() for line in Path(path).read_text().splitlines()]
    lines = [tokens for tokens in lines if tokens]
    out, i = [], 0
    while i < len(lines):
        number, count = (int(v) for v in lines[i])
        rows = lines[i + 1: i + 1 + count]
        assert all(len(row) == 15 for row in rows)
        out.append((number, np.array([[float(v) for v in row] for row in rows])))
        i += 1 + count
    return out


def test_hepevt_read_like_edep_sim(simulated, tmp_path):
    out = tmp_path / "events.hepevt"
    events, meta = _exported(simulated, out, "hepevt", "--offset-m", "1.5,-2,0.25")
    read = _read_hepevt(out)
    assert [number for number, _ in read] == list(range(len(events)))
    rows = np.stack([table for _, table in read])
    pdg, p4 = _expected(events)
    up, dec, t_dec = _vertices(events)
    shift = np.array([1.5, -2.0, 0.25])
    assert np.all(rows[:, :, 0] == hepevt.PARTICLE_STATUS)
    assert np.all(rows[:, :, 1] == pdg)
    assert rows[:, :, 6:10] == pytest.approx(p4, rel=1e-15, abs=1e-16)
    # edep-sim: every ISTHEP = 1 particle at the (last) one's position, in cm and ns
    tracked = rows[:, :, 0] == 1
    assert np.all(tracked.sum(axis=1) == 3) and np.all(tracked[:, 4:])
    assert rows[:, 4:, 11:14] == pytest.approx(np.repeat((dec + shift)[:, None] * 100, 3, 1),
                                               abs=1e-12)
    assert rows[:, 4:, 14] == pytest.approx(np.repeat(t_dec[:, None] * 1e9, 3, 1), rel=1e-12)
    assert rows[:, :4, 11:14] == pytest.approx(np.repeat((up + shift)[:, None] * 100, 4, 1),
                                               abs=1e-12)
    masses = np.sqrt(np.maximum(p4[:, :, 3] ** 2 - np.sum(p4[:, :, :3] ** 2, axis=2), 0))
    assert np.all(rows[:, 4:, 10] == [0.0, M_E, M_E])
    assert rows[:, 2, 10] == pytest.approx(masses[:, 2], rel=1e-6)
    # mothers and daughters, counted from 1
    assert rows[0, :, 2:6].tolist() == [[0, 0, 3, 4], [0, 0, 3, 4], [1, 2, 5, 7], [1, 2, 0, 0],
                                        [3, 3, 0, 0], [3, 3, 0, 0], [3, 3, 0, 0]]
    weights = [float(line.split("weight ")[1].split(",")[0])
               for line in out.read_text().splitlines() if line.startswith("# event ")]
    assert sum(weights) == pytest.approx(_ee_expected(events, meta, meta["nominal_pot"]),
                                         rel=1e-12)


# --------------------------------------------------------------------------- unweighted
def _pair(p4_plus, p4_minus):
    """E_ee [GeV] and the e+ e- opening angle [rad]."""
    energy = p4_plus[:, 3] + p4_minus[:, 3]
    cos = np.sum(p4_plus[:, :3] * p4_minus[:, :3], axis=1) / (
        np.linalg.norm(p4_plus[:, :3], axis=1) * np.linalg.norm(p4_minus[:, :3], axis=1))
    return energy, np.arccos(np.clip(cos, -1, 1))


def _ks_pvalue(sample_values, values, weights):
    """Kolmogorov-Smirnov p-value of a sample against the discrete distribution with mass
    w_i / sum(w) at each value. The weighted ntuple has atoms (some heavy): the distance is
    taken on both sides of each atom (scipy's kstest compares F(x) with the sample's left
    limit at ties, which is wrong for atoms), and kstwo's p-value is conservative for a
    discrete distribution."""
    atoms, inverse = np.unique(values, return_inverse=True)
    cdf = np.cumsum(np.bincount(inverse, weights=weights)) / weights.sum()
    below = np.concatenate([[0.0], cdf[:-1]])
    drawn = np.sort(sample_values)
    n = drawn.size
    ecdf = np.searchsorted(drawn, atoms, side="right") / n
    ecdf_below = np.searchsorted(drawn, atoms, side="left") / n
    distance = max(np.abs(ecdf - cdf).max(), np.abs(ecdf_below - below).max())
    return float(stats.kstwo.sf(distance, n))


def test_unweighted_follows_the_weights(simulated, tmp_path):
    """N events drawn with probability ~ weight follow the weighted E_ee and opening-angle
    distributions: one-sample Kolmogorov-Smirnov tests against the weighted ntuple's
    distribution, p > 0.01 each (fixed seed). Drawing uniformly instead fails the same test
    (p < 1e-3), so the test can tell."""
    hp = pytest.importorskip("pyhepmc")
    out = tmp_path / "unweighted.hepmc3"
    n, pot = 5000, 3.21e21
    events, meta = _exported(simulated, out, "nuhepmc", "--unweighted", str(n), "--seed", "11",
                             "--pot", str(pot))
    plus, minus, weights, entries = [], [], [], []
    with hp.open(out) as f:
        for event in f:
            momenta = {p.pid: list(p.momentum) for p in event.particles if p.status == 1}
            plus.append(momenta[-11])
            minus.append(momenta[11])
            weights.append(event.weights[0])
            entries.append(event.attributes["t2khnl.ntuple_entry"].astype(int))
            info = event.run_info
    assert len(weights) == n
    expected_ee = _ee_expected(events, meta, pot)
    assert np.allclose(weights, expected_ee / n, rtol=1e-14)
    expected_decays = info.attributes["t2khnl.expected_hnl_decays"].astype(float)
    assert expected_decays == pytest.approx(_col(events, "weight").sum() * pot, rel=1e-12)
    assert info.attributes["NuHepMC.Exposure.POT"].astype(float) == pot
    assert info.attributes["t2khnl.mode"].astype(str) == "unweighted"

    w = _col(events, "weight")
    reference = _pair(_p4(events, "ep"), _p4(events, "em"))
    drawn = _pair(np.array(plus), np.array(minus))
    rng = np.random.default_rng(2)
    uniform = rng.integers(0, len(events), n)
    for values, sampled in zip(reference, drawn, strict=True):
        assert _ks_pvalue(sampled, values, w) > 0.01
        assert _ks_pvalue(values[uniform], values, w) < 1e-3
    # the draw picks events in proportion to their weight
    counts = np.bincount(entries, minlength=len(events))
    heaviest = np.argsort(w)[-5:]
    assert counts[heaviest] == pytest.approx(n * w[heaviest] / w.sum(), rel=0.35)


# --------------------------------------------------------------------------- bad inputs
def _one_line_error(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("t2khnl: error: ")
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])


@pytest.fixture
def old_ntuple(simulated, tmp_path):
    """The sample as an ntuple of an older t2khnl, without the event-record branches."""
    _, events, meta = simulated
    older = events[[f for f in events.fields if f not in
                    ("nu_pdg", "nu_dx", "nu_dy", "nu_dz", "target_mass_gev", "hnl_pdg",
                     "dnu_e", "dnu_px", "dnu_py", "dnu_pz")]]
    path = tmp_path / "input" / "old.root"
    path.parent.mkdir()
    ntuple.write(path, older, meta)
    return path


@pytest.mark.parametrize("fmt", ["nuhepmc", "rootracker", "hepevt"])
def test_old_ntuple_refused(old_ntuple, tmp_path, fmt):
    out = tmp_path / "out" / "events"
    out.parent.mkdir()
    result = _run(["--input", str(old_ntuple), "--format", fmt, "--output", str(out)])
    _one_line_error(result, "old.root", "nu_pdg", "dnu_e", "older t2khnl")
    assert list(out.parent.iterdir()) == []


def test_missing_root_refused(simulated, tmp_path, monkeypatch):
    path, _, _ = simulated
    monkeypatch.setitem(sys.modules, "ROOT", None)  # import ROOT -> ImportError
    monkeypatch.setattr(ntuple, "read", lambda *a: pytest.fail("read before the checks"))
    out = tmp_path / "events.root"
    result = _run(["--input", str(path), "--format", "rootracker", "--output", str(out)])
    _one_line_error(result, "rootracker", "ROOT", "pip install")
    assert list(tmp_path.iterdir()) == []


BAD = {
    "unweighted 0": (["--unweighted", "0"], ["--unweighted", "0"]),
    "unweighted negative": (["--unweighted", "-5"], ["--unweighted", "-5"]),
    "negative pot": (["--pot", "-1e20"], ["--pot", "-1e+20"]),
    "nan pot": (["--pot", "nan"], ["--pot", "nan"]),
    "two offsets": (["--offset-m", "1,2"], ["--offset-m", "1,2"]),
    "word offset": (["--offset-m", "a,b,c"], ["--offset-m", "a,b,c"]),
    "unknown format": (["--format", "lhe"], ["format", "lhe", "nuhepmc"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_arguments(simulated, tmp_path, monkeypatch, case):
    path, _, _ = simulated
    args, words = BAD[case]
    monkeypatch.setattr(ntuple, "read", lambda *a: pytest.fail("read before the checks"))
    fmt = [] if "--format" in args else ["--format", "hepevt"]
    result = _run(["--input", str(path), *fmt, "--output", str(tmp_path / "e.txt"), *args])
    _one_line_error(result, *words)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output(simulated, tmp_path):
    path, _, _ = simulated
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for output in (tmp_path / "missing" / "e.hepevt", blocker / "e.hepevt", tmp_path, path):
        result = _run(["--input", str(path), "--format", "hepevt", "--output", str(output)])
        _one_line_error(result, str(output.name))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_failed_write_leaves_nothing(simulated, tmp_path, monkeypatch):
    path, _, _ = simulated

    def half_written(target, chosen):
        target.write_text("partial")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setitem(exporting.FORMATS, "hepevt",
                        exporting.Format(lambda: None, half_written))
    with pytest.raises(OSError, match="disk full"):
        exporting.export(path, "hepevt", tmp_path / "e.hepevt")
    assert list(tmp_path.iterdir()) == []


def test_files_honour_the_umask(simulated, tmp_path):
    path, _, _ = simulated
    previous = os.umask(0o027)
    try:
        exporting.export(path, "hepevt", tmp_path / "e.hepevt", unweighted=10)
    finally:
        os.umask(previous)
    assert (tmp_path / "e.hepevt").stat().st_mode & 0o777 == 0o640


def test_ee_fraction_follows_the_width_convention():
    """The e+ e- share of the decays the weights count: Gamma_ee / (Gamma_gamma +
    Gamma_ee) when the lifetime has both (corrected), Gamma_ee / Gamma_gamma when it has
    Gamma(nu gamma) only (darknews, siren)."""
    ratio = model.width_nu_ee_gev(0.3, 1e-6) / model.width_nu_gamma_gev(0.3, 1e-6)
    assert sample.ee_fraction(0.3, "corrected") == pytest.approx(
        model.width_nu_ee_gev(0.3, 1e-6) / model.total_width_gev(0.3, 1e-6), rel=1e-12)
    assert sample.ee_fraction(0.3, "darknews") == pytest.approx(ratio, rel=1e-12)
    assert math.isclose(sample.ee_fraction(0.3, "siren"), sample.ee_fraction(0.3, "darknews"))


def test_records_of_hydrogen_and_antineutrino_events():
    """Codes SIREN's ND280 samples rarely or never hold: a nu_mu-bar making an N-bar, which
    decays to nu_mu-bar; a hydrogen nucleus (p-el, its only channel) written as the proton
    (2212) it is, target and recoil; a neutron struck in a nucleus (n-el); and the offset."""
    from t2khnl.export import records

    mass, target_mass, e_nu = 0.2, 0.93878, 2.0
    pz = 1.9  # an HNL going forward, recoil from four-momentum conservation
    hnl = {"hnl_e": math.hypot(pz, mass), "hnl_px": 0.0, "hnl_py": 0.0, "hnl_pz": pz}
    half = {f"{p}_{c}": v for p in ("dnu", "ep", "em") for c, v in
            zip(("e", "px", "py", "pz"), (hnl["hnl_e"] / 3, 0.0, 0.0, pz / 3), strict=True)}
    event = {"weight": 1e-20, "decay_probability": 0.5, "e_nu": e_nu, "nu_pdg": -14,
             "nu_dx": 0.0, "nu_dy": 0.0, "nu_dz": 1.0, "target_pdg": 1000010010,
             "target_mass_gev": target_mass, "channel": 1, "hnl_pdg": -5914, "vtx_x": 0.0,
             "vtx_y": 0.0, "vtx_z": -1.0, "dec_x": 0.0, "dec_y": 0.0, "dec_z": 0.5, **hnl, **half}
    events = ak.Array({key: np.array([value]) for key, value in event.items()})
    rec = records.build(events, mass, np.array([0]), offset_m=(1.0, 2.0, 3.0))
    assert rec.pdg[0].tolist() == [-14, 2212, -5914, 2212, -14, -11, 11]
    assert rec.nucleus_pdg.tolist() == [1000010010]
    neutron = ak.Array({**{key: np.array([value]) for key, value in event.items()},
                        "target_pdg": np.array([1000060120]), "channel": np.array([2])})
    assert records.build(neutron, mass, np.array([0])).pdg[0, [1, 3]].tolist() == [2112, 2112]
    recoil = rec.p4_gev[0, 3]
    assert recoil.tolist() == pytest.approx([0.0, 0.0, e_nu - pz, e_nu + target_mass
                                             - hnl["hnl_e"]], rel=1e-15)
    assert rec.vertex_m[0].tolist() == [[1.0, 2.0, 2.0], [1.0, 2.0, 3.5]]
    beta = pz / hnl["hnl_e"]
    assert rec.vertex_t_s[0].tolist() == pytest.approx([0.0, 1.5 / (beta * C)], rel=1e-15)


def test_cli_offers_every_format():
    """The CLI's --format choices are the formats export() writes."""
    option = next(p for p in cli.export.params if p.name == "fmt")
    assert tuple(option.type.choices) == tuple(exporting.FORMATS)
