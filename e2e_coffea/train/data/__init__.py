"""The input side of training: where objects come from
(:mod:`~e2e_coffea.train.data.sources` for ROOT files,
:mod:`~e2e_coffea.train.data.frame_files` for npz and ML4SCI frames files,
:mod:`~e2e_coffea.train.data.arrays` for arrays in memory), the per-file
:mod:`~e2e_coffea.train.data.index`, the deterministic :mod:`~e2e_coffea.train.data.split`,
the class :mod:`~e2e_coffea.train.data.weights`, the
:mod:`~e2e_coffea.train.data.streaming` of shuffled fixed-size batches
(:mod:`~e2e_coffea.train.data.batch`), and the training
:mod:`~e2e_coffea.train.data.conditions` a contract records."""

from __future__ import annotations

__all__: list[str] = []
