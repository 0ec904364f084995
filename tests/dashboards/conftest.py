"""Dashboard tests reuse the main-job sample and tagger of ``tests/processor/conftest.py``.

That file is loaded by path (``--import-mode=importlib`` keeps test folders apart); its
on-disk markers make the sample generate once per session for every folder that uses it.
On top, one saved run (``output.pkl`` + ``summary.json``, as ``e2e-coffea run`` writes).
"""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

_spec = importlib.util.spec_from_file_location(
    "_e2e_main_job_fixtures", Path(__file__).parents[1] / "processor" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

sample = _shared.sample
jet_tagger = _shared.jet_tagger
CHUNKSIZE = 15
"""40 events per file -> 3 chunks per file (0-14, 14-27, 27-40), 6 in all."""


def save_run(out: Path, fileset: Path, tagger: Path, chunksize: int = CHUNKSIZE) -> SimpleNamespace:
    """Run like ``e2e-coffea run --out`` does and keep what it writes."""
    from e2e_coffea.hists.summary import summarize
    from e2e_coffea.runner import run
    from e2e_coffea.taggers import resolve_tagger

    spec = resolve_tagger(tagger)
    result = run(fileset, [spec], chunksize=chunksize, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "output.pkl").open("wb") as f:
        pickle.dump(result.output, f)
    (out / "summary.json").write_text(json.dumps(summarize(result, [spec]), default=float))
    return SimpleNamespace(dir=out, output=result.output, spec=spec, fileset=fileset, chunksize=chunksize)


@pytest.fixture(scope="session")
def saved_run(sample: SimpleNamespace, jet_tagger: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The tiny tagger run over the sparse sample, saved to a folder."""
    return save_run(tmp_path_factory.mktemp("dash-run"), sample.fileset["sparse"], jet_tagger)
