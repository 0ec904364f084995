"""A ``coffea.ml_tools``-style face of :class:`~e2e_coffea.inference.Tagger`.

For analyses already written against ``coffea.ml_tools`` (``torch_wrapper``,
``triton_wrapper``): :class:`TaggerWrapper` is a ``numpy_call_wrapper`` whose
``prepare_awkward`` builds the model's inputs for the tagger's objects, whose
``numpy_call`` runs the model and whose call gives the outputs beside the objects. It
delegates every step to one :class:`Tagger`, so selection, frames, sessions and the
eager, virtual and dask modes are the tagger's own.

>>> wrapper = TaggerWrapper("tau_simplenet")            # doctest: +SKIP
>>> scores = wrapper(events)                            # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt
from coffea.ml_tools.helper import numpy_call_wrapper

from .outputs import model_outputs
from .sessions import resolve_device
from .shipped import TaggerSpec
from .tagger import Tagger

__all__ = ["TaggerWrapper"]


class TaggerWrapper(numpy_call_wrapper):  # type: ignore[misc]
    """``coffea.ml_tools.numpy_call_wrapper`` around a :class:`Tagger` (or the name, path
    or spec of one, with ``Tagger``'s keyword options).

    * ``wrapper(events)``: per-object outputs, as ``tagger(events)`` (eager, virtual or
      dask-awkward events, any schema).
    * ``wrapper.prepare_awkward(events)``: ``((inputs...), {})``, the model's inputs for
      the selected objects as regular awkward arrays, in the model's input order.
    * ``wrapper.numpy_call(*inputs)``: the outputs for those inputs (probabilities,
      or values in physical units for a regression), one row per object.
    """

    def __init__(
        self, tagger: Tagger | str | os.PathLike[str] | TaggerSpec, **options: Any
    ) -> None:
        super().__init__()
        self.tagger = tagger if isinstance(tagger, Tagger) else Tagger(tagger, **options)

    def __call__(self, events: Any) -> Any:
        return self.tagger(events)

    def prepare_awkward(self, events: Any) -> tuple[tuple[ak.Array, ...], dict[str, Any]]:
        t = self.tagger
        chunk, layout, offset = t.read(events)
        sel = t.select(chunk, layout, entry_offset=offset)
        inputs, _records = t.model_inputs(chunk, layout, sel.selection, "cpu")
        return tuple(ak.from_numpy(np.asarray(v)) for v in inputs.values()), {}

    def validate_numpy_input(self, *inputs: Any, **kwargs: Any) -> None:
        c = self.tagger.contract
        names = c.input_names[: 1 + bool(c.scalar_inputs)]
        if kwargs or len(inputs) != len(names):
            msg = f"{self.tagger.name} takes {len(names)} input(s) {list(names)}, got {len(inputs)} positional and {sorted(kwargs)} keyword"
            raise TypeError(msg)
        if c.input_kind == "image":
            want = (len(c.channels), *c.frame_size)
            got = tuple(np.shape(inputs[0])[1:])
            if got != want:
                msg = f"{self.tagger.name} takes {names[0]} of shape (batch, {', '.join(map(str, want))}), got {np.shape(inputs[0])}"
                raise ValueError(msg)

    def numpy_call(self, *inputs: Any) -> npt.NDArray[np.float32]:
        self.validate_numpy_input(*inputs)  # a user's own arrays get the same one line
        t = self.tagger
        names = t.contract.input_names
        device = resolve_device(t.device) if t.triton is None else "cpu"
        feed = {n: np.asarray(x, dtype=np.float32) for n, x in zip(names, inputs, strict=False)}
        if len(inputs[0]) == 0:
            return model_outputs(np.zeros((0, 1), np.float32), t.contract)
        return model_outputs(np.asarray(t.backend(device).infer(feed)), t.contract)
