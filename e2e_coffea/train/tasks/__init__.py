"""The task side of training: the task :mod:`~e2e_coffea.train.tasks.definitions` (what
is signal, what is predicted), the :mod:`~e2e_coffea.train.tasks.pairing` of a model with
a task, task :mod:`~e2e_coffea.train.tasks.training` end to end, and the
:mod:`~e2e_coffea.train.tasks.trained_export` of the result as a tagger with its
contract."""

from __future__ import annotations

__all__: list[str] = []
