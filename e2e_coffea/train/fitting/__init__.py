"""The optimisation side of training: the fit :mod:`~e2e_coffea.train.fitting.loop` and
its per-batch :mod:`~e2e_coffea.train.fitting.stepper`, the early
:mod:`~e2e_coffea.train.fitting.stopping` and history, mixed
:mod:`~e2e_coffea.train.fitting.precision`, checkpoints
(:mod:`~e2e_coffea.train.fitting.checkpoint`), data-parallel
(:mod:`~e2e_coffea.train.fitting.distributed`), and
:mod:`~e2e_coffea.train.fitting.evaluate` / :mod:`~e2e_coffea.train.fitting.metrics` for
validation and test."""

from __future__ import annotations

__all__: list[str] = []
