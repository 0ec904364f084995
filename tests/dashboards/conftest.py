"""Dashboard tests: the shared sample and tagger come from ``tests/conftest.py``; on top,
one saved run (``output.zip`` + ``summary.json``, as ``e2e-coffea run`` writes)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

CHUNKSIZE = 15
"""40 events per file -> 3 chunks per file (0-14, 14-27, 27-40), 6 in all."""


def save_run(out: Path, fileset: Path, tagger: Path, chunksize: int = CHUNKSIZE) -> SimpleNamespace:
    """Run like ``e2e-coffea run --out --unweighted`` does and keep what it writes (counts,
    to compare with the raw scores)."""
    from e2e_coffea.hists.summary import summarize
    from e2e_coffea.inference.shipped import resolve_tagger
    from e2e_coffea.processor.serialize import save_output
    from e2e_coffea.runner import run

    spec = resolve_tagger(tagger)
    result = run(fileset, [spec], chunksize=chunksize, progress=False, lumi_fb=None)
    out.mkdir(parents=True, exist_ok=True)
    save_output(result.output, out)
    (out / "summary.json").write_text(json.dumps(summarize(result, [spec]), default=float))
    return SimpleNamespace(
        dir=out, output=result.output, spec=spec, fileset=fileset, chunksize=chunksize
    )


@pytest.fixture(scope="session")
def saved_run(
    sample: SimpleNamespace, jet_tagger: Path, tmp_path_factory: pytest.TempPathFactory
) -> SimpleNamespace:
    """The tiny tagger run over the sparse sample, saved to a folder."""
    return save_run(tmp_path_factory.mktemp("dash-run"), sample.fileset["sparse"], jet_tagger)
