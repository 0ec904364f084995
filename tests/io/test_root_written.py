"""Files that ROOT itself wrote (``std::vector<float>`` branches, as MLAnalyzer writes them).

ROOT is not a dependency: CI installs the ``root`` wheel for this test; elsewhere it skips.
The writer runs in a subprocess so PyROOT's import-time side effects stay out of pytest.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.io import flatten_collections, read_arrays
from e2e_coffea.io.densify import densify
from e2e_coffea.layouts import E2E_IMAGES

pytestmark = pytest.mark.root

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, ROOT
    data = np.load(sys.argv[1])
    f = ROOT.TFile(sys.argv[2], "RECREATE")
    d = f.mkdir("fevt"); d.cd()
    t = ROOT.TTree("RHTree", "ROOT-written e2e ntuple")
    names = [k for k in data.files if not k.startswith("n_")]
    vecs = {}
    for k in names:
        kind = "int" if k.startswith("jetSeed") else "float"
        vecs[k] = ROOT.std.vector(kind)()
        t.Branch(k, vecs[k])
    n = int(data["n_events"])
    for i in range(n):
        for k in names:
            v = vecs[k]; v.clear()
            lo, hi = data["n_" + k][i], data["n_" + k][i + 1]
            for x in data[k][lo:hi]:
                v.push_back(int(x) if k.startswith("jetSeed") else float(x))
        t.Fill()
    t.Write(); f.Close()
    """
)


def _ragged(values):
    flat = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
    offsets = np.concatenate([[0], np.cumsum([np.asarray(v).size for v in values])])
    return flat, offsets


def test_root_written_vectors_give_the_same_frames(tmp_path, chunk):
    if importlib.util.find_spec("ROOT") is None:
        pytest.skip("ROOT is not installed (pip install root); CI installs it for this test")
    # keep every jet seed well inside the grid so frames are non-trivial
    flat = flatten_collections(chunk)
    images = densify(flat)
    arrays = {k: list(images[k]) for k in ("ECAL_energy", "HBHE_energy", "ECAL_tracksPt_atECALfixIP")}
    arrays["jetSeed_ieta"] = [np.asarray(x) for x in flat["Jet_seedIeta"].to_list()]
    arrays["jetSeed_iphi"] = [np.asarray(x) for x in flat["Jet_seedIphi"].to_list()]
    payload = {"n_events": len(flat)}
    for k, vals in arrays.items():
        payload[k], payload["n_" + k] = _ragged(vals)
    np.savez(tmp_path / "in.npz", **payload)
    (tmp_path / "w.py").write_text(WRITER)
    out = tmp_path / "root_written.root"
    subprocess.run([sys.executable, str(tmp_path / "w.py"), str(tmp_path / "in.npz"), str(out)],
                   check=True, timeout=300, capture_output=True)

    import uproot

    assert uproot.open(out)["fevt/RHTree"]["ECAL_energy"].typename == "std::vector<float>"
    got = read_arrays(out, ["ECAL_energy", "HBHE_energy", "ECAL_tracksPt_atECALfixIP",
                            "jetSeed_ieta", "jetSeed_iphi"], layout="e2e")
    assert len(got) == len(flat)
    from e2e_coffea.io import dense_image

    np.testing.assert_array_equal(dense_image(got, "ECAL_energy").reshape(len(flat), -1), images["ECAL_energy"])
    assert E2E_IMAGES["ECAL_energy"].shape == (280, 360)
    ref, _ = build_jet_frames(flat, layout="sparse", channels="qg")
    frames, _ = build_jet_frames(got, layout="e2e", channels="qg")
    np.testing.assert_array_equal(frames, ref)
