"""Data-parallel training: two CPU processes (gloo), each streaming its shard of the units,
end with the weights of one process that sees the whole batch; errors come back named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.models import create_model
from e2e_coffea.train import (
    ArraySource,
    ObjectStream,
    build_index,
    fit,
    fit_reweighting,
    rank_info,
    spawn,
)

GLOBAL_BATCH = 32


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((96, 2, 12, 12), dtype=np.float32)
    y = (x[:, 0, 4:8, 4:8].mean((1, 2)) > 0.5).astype(np.float32)
    return x, y, rng.uniform(20.0, 200.0, 96).astype(np.float32)


def _train(world: int) -> dict[str, list[float]]:
    """Train a small net (no batch norm, no dropout) for 3 steps; runs in every rank."""
    rank = rank_info()
    torch.manual_seed(0)
    model = create_model("simplenet", 2, 1, width=4, hidden=8, dropout=0.0)
    x, y, pt = _data()
    # units of half a global batch: rank r reads units r, r + 2, ..., so each step's two
    # half batches together are the one process's global batch (in the stream's order)
    index = build_index([ArraySource(x, y, pt=pt)], step=GLOBAL_BATCH // 2)
    rw = fit_reweighting("pt", index.pt, n_pt_bins=4, min_count=5)  # weighted losses too
    batches = ObjectStream(index, 0, GLOBAL_BATCH // world, reweighting=rw, rank=rank.rank,
                           world=world)  # fmt: skip
    fit(model, batches, epochs=1, lr=1e-2, device="cpu", progress=False, seed=3)
    return {k: v.flatten().tolist() for k, v in model.state_dict().items()}


def _fail() -> None:
    msg = f"rank {rank_info().rank} refuses"
    raise BadInputError(msg)


def test_two_gloo_processes_match_one_process_with_the_global_batch() -> None:
    torch.set_num_threads(1)
    single = _train(1)
    double: dict[str, Any] = spawn(_train, 2, "cpu", world=2)
    assert single.keys() == double.keys()
    for k in single:
        np.testing.assert_allclose(double[k], single[k], rtol=1e-4, atol=1e-6, err_msg=k)
    torch.manual_seed(0)
    untouched = create_model("simplenet", 2, 1, width=4, hidden=8, dropout=0.0).state_dict()
    assert any(  # it trained: the match is not two untouched models
        not np.allclose(single[k], untouched[k].flatten().numpy()) for k in single
    )


def test_errors_of_a_rank_come_back_in_one_line() -> None:
    with pytest.raises(BadInputError, match=r"rank(\d): rank \1 refuses"):
        spawn(_fail, 2, "cpu")
    with pytest.raises(BadInputError, match="nproc must be >= 1"):
        spawn(_fail, 0, "cpu")
