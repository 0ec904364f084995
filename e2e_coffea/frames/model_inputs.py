"""What a model eats, in one object: the branches it needs and the inputs it is fed.

Training (:mod:`e2e_coffea.train.data.sources`), inference (:class:`e2e_coffea.inference.Tagger`)
and the frames converter (:mod:`.convert`) all plan their branches and build their
inputs through :class:`ModelInputs`, so a channel, a normalisation or a scalar added for
one is added for all: a model sees in production the numbers it was trained on. An
exported model's contract is a serialised ``ModelInputs`` (``Contract.model_inputs()``
reads it back, ``export.contract.input_fields`` writes it); this module knows nothing
of the contract, which lives above it.

>>> spec = ModelInputs("image", "jet", ("ecal", "hcal"))              # doctest: +SKIP
>>> chunk = read_columns(tree, plan_columns(keys, spec.branches("sparse"), []))  # doctest: +SKIP
>>> built = spec.build(chunk, "sparse", selection)                   # doctest: +SKIP
>>> built.inputs.shape, built.scalars                                # doctest: +SKIP
((12, 2, 125, 125), None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..layouts import ObjectKind, frame_of
from .channels import required_branches, resolve_channels
from .egamma import build_eg_frames
from .jets import build_jet_frames
from .normalisation import Normalisation
from .objects import check_kind, check_layout, object_table
from .pointcloud import PointCloudSpec, build_point_clouds, point_cloud_branches
from .records import ObjectRecords, ObjectSelection
from .scalars import scalar_branch_names, scalar_matrix

__all__ = ["INPUT_KINDS", "BuiltInputs", "InputKind", "ModelInputs", "window_size"]

InputKind = Literal["image", "points"]
INPUT_KINDS: tuple[InputKind, ...] = ("image", "points")
Backend = Literal["numpy", "torch"]


def window_size(kind: str) -> tuple[int, int]:
    """The frame of a ``kind`` object: 32x32 e/gamma crops, 125x125 (Fat)Jet windows."""
    side = 32 if frame_of(kind) == "eg" else 125
    return side, side


@dataclass(frozen=True)
class BuiltInputs:
    """One batch of model inputs: ``inputs`` (n, C, H, W) frames or (n, N, F) point
    features (numpy, or a torch tensor on ``device``), the ``scalars`` (n, s) numpy
    matrix (None when the model takes none) and the objects' ``records``."""

    inputs: Any
    scalars: npt.NDArray[np.float32] | None
    records: ObjectRecords


@dataclass(frozen=True)
class ModelInputs:
    """A model's inputs: ``image`` frames of ``channels`` (a preset name or channel
    names, normalised by ``norm``) or ``points`` clouds (``points``) of ``kind`` objects
    (``jet``, ``fatjet``, ``eg``), and per-object ``scalars`` (object quantities or event
    branches, :mod:`.scalars`) standardised by ``scalar_norm`` (``{name: [mean, std]}``;
    None: raw, as training streams them before it knows their spread). ``frame_size``:
    (H, W) of the frames (default the kind's window) or (points, features)."""

    input_kind: InputKind
    kind: str
    channels: str | tuple[str, ...] = ()
    norm: Normalisation | str | None = None
    points: PointCloudSpec | None = None
    scalars: tuple[str, ...] = ()
    scalar_norm: Mapping[str, Sequence[float]] | None = None
    frame_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            msg = f"input_kind must be one of {list(INPUT_KINDS)}, got {self.input_kind!r}"
            raise BadInputError(msg)
        check_kind(self.kind)
        if not isinstance(self.channels, str):
            object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "scalars", tuple(self.scalars))
        if self.input_kind == "points" and self.points is None:
            object.__setattr__(self, "points", PointCloudSpec())
        # the default made explicit, so that inputs read back from a contract compare equal
        size = self.size if self.frame_size is None else self.frame_size
        object.__setattr__(self, "frame_size", tuple(int(v) for v in size))

    # -- what it is ------------------------------------------------------------------
    @property
    def object_kind(self) -> ObjectKind:
        return check_kind(self.kind)

    @property
    def names(self) -> tuple[str, ...]:
        """Channel names in order (images) or point features (points): the contract's
        ``channels``."""
        if self.input_kind == "points":
            return self._points().features
        if isinstance(self.channels, str):
            return tuple(s.name for s in resolve_channels(self.channels, frame=self.kind))
        return self.channels

    @property
    def size(self) -> tuple[int, int]:
        """``frame_size``, or by default the kind's window (images) or
        (max_points, n_features) (points): the contract's ``frame_size``."""
        if self.frame_size is not None:
            return self.frame_size
        if self.input_kind == "points":
            return self._points().max_points, self._points().n_features
        return window_size(self.kind)

    @property
    def shape(self) -> tuple[int, ...]:
        """One object's input: (C, H, W) frames or (max_points, n_features)."""
        if self.input_kind == "points":
            return self.size
        return (len(self.names), *self.size)

    @property
    def bytes_per_object(self) -> int:
        """float32 bytes of one object's input (frames or a padded point cloud)."""
        if self.input_kind == "points":
            return 4 * self._points().max_points * max(len(self._points().features), 1)
        return 4 * len(self.names) * self.size[0] * self.size[1]

    @property
    def builds_into(self) -> bool:
        """Whether :meth:`frames` takes ``out=`` (jet and FatJet frames)."""
        return self.input_kind == "image" and frame_of(self.kind) != "eg"

    # -- what it reads ---------------------------------------------------------------
    def branches(self, layout: str) -> list[str]:
        """The branches (our names) these inputs cannot be built without in ``layout``:
        the hits of the channels (or of the point cloud), the objects' seeds (and, for
        point clouds, their axes) and the scalars'."""
        lay = check_layout(layout)
        table = object_table(lay, self.kind)
        if self.input_kind == "points":
            need = [*point_cloud_branches(lay), table["seed_row"], table["seed_col"],
                    table["eta"], table["phi"]]  # fmt: skip
        else:
            need = [*required_branches(self._channels(), lay, frame=self.kind),
                    table["seed_row"], table["seed_col"]]  # fmt: skip
        return list(dict.fromkeys([*need, *scalar_branch_names(self.scalars, table)]))

    def object_branches(self, layout: str) -> list[str]:
        """The branches of the objects alone (their seeds) and of the scalars: what a
        scan of the objects needs before any frame is built."""
        table = object_table(check_layout(layout), self.kind)
        need = [table["seed_row"], table["seed_col"], *scalar_branch_names(self.scalars, table)]
        return list(dict.fromkeys(need))

    # -- what it builds --------------------------------------------------------------
    def frames(
        self,
        chunk: Any,
        layout: str,
        objects: ObjectSelection | None = None,
        *,
        backend: Backend = "numpy",
        device: str = "cpu",
        dtype: str = "float32",
        out: Any = None,
    ) -> tuple[Any, ObjectRecords]:
        """The frames (or point features) of ``objects`` of ``chunk`` (all ``kind``
        objects when None) and their records, numpy or torch on ``device``. ``out``:
        an array to build jet frames into (:attr:`builds_into`)."""
        lay = check_layout(layout)
        if out is not None and not self.builds_into:
            msg = f"out= is for jet frames, not for {self.kind} {self.input_kind} inputs"
            raise BadInputError(msg)
        if self.input_kind == "points":
            pc = build_point_clouds(chunk, layout=lay, jets=objects, backend=backend,
                                    device=device, dtype=dtype, spec=self.points)  # fmt: skip
            return pc.features, pc.records
        if frame_of(self.kind) == "eg":
            return build_eg_frames(chunk, layout=lay, channels=self._channels(), norm=self.norm,
                                   backend=backend, device=device, dtype=dtype, objects=objects)  # fmt: skip
        return build_jet_frames(chunk, layout=lay, channels=self._channels(), norm=self.norm,
                                backend=backend, device=device, dtype=dtype, jets=objects,
                                kind="fatjet" if self.kind == "fatjet" else "jet", out=out)  # fmt: skip

    def scalar_values(
        self, chunk: Any, records: ObjectRecords, layout: str
    ) -> npt.NDArray[np.float32] | None:
        """(n, s) float32 scalars of ``records`` (standardised by ``scalar_norm`` when
        set); None when the model takes no scalars."""
        if not self.scalars:
            return None
        table = object_table(check_layout(layout), self.kind)
        return scalar_matrix(chunk, records, list(self.scalars), table, self.scalar_norm)

    def build(
        self,
        chunk: Any,
        layout: str,
        objects: ObjectSelection | None = None,
        *,
        backend: Backend = "numpy",
        device: str = "cpu",
        out: Any = None,
    ) -> BuiltInputs:
        """Everything the model is fed for ``objects`` of ``chunk``: frames or point
        features, and the scalars."""
        x, rec = self.frames(chunk, layout, objects, backend=backend, device=device, out=out)
        return BuiltInputs(x, self.scalar_values(chunk, rec, layout), rec)

    def _points(self) -> PointCloudSpec:
        return self.points if self.points is not None else PointCloudSpec()

    def _channels(self) -> str | list[str]:
        return self.channels if isinstance(self.channels, str) else list(self.channels)
