"""The contract an exported model carries: everything needed to feed it correctly.

A model file is only safe to use if the caller builds its input exactly as in training:
same channels in the same order, same frame size and crop, same normalisation, same
extra scalars. We write all of that into the ONNX ``metadata_props`` (one key per field,
prefixed ``e2e_coffea.``, each value a JSON string) so it travels with the weights, as
timm's pretrained config does, and :func:`load_contract` refuses files that lack it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..exceptions import ChannelError, ContractError, MalformedInputError
from ..io.jsonfiles import loads_json
from ..layouts import OBJECT_KINDS

if TYPE_CHECKING:
    from ..frames.model_inputs import ModelInputs
    from ..frames.selection import KinematicRange

__all__ = [
    "CONTRACT_VERSION",
    "E2E_JET_CROP",
    "EG_CROP",
    "MARKER_KEY",
    "PREFIX",
    "Contract",
    "check_channels",
    "input_fields",
    "load_contract",
]

PREFIX: Final = "e2e_coffea."
MARKER_KEY: Final = PREFIX + "contract_version"
CONTRACT_VERSION: Final = 2
"""Bump when a field changes meaning; readers refuse versions newer than they know.
Version 2 added ``kind``, ``points``, ``scalar_norm``, ``target`` and ``validity``; a
version-1 file reads as before (those fields empty). ``truth_labels`` (defaulting to
``label``, so older files read unchanged) came later without a bump: a reader that does
not know it ignores it and validates with the label branch."""
MAX_FIELD_BYTES: Final = 16 * 1024 * 1024
"""Largest JSON value one contract field may hold (its figures and metrics are kilobytes)."""
MAX_FRAME_SIDE: Final = 4096
MAX_FRAME_CELLS: Final = 1024 * 1024
"""Bounds on ``frame_size``: a frame larger than the detector grid is a mistake, and a
model's probe batch is allocated from it (100000x100000 asked for 969 GiB)."""

E2E_JET_CROP: Final = "e2e-jet-125: centre 5*ieta+2, 5*iphi+2, +-62, phi wrap, zero pad"
"""The E2E jet window: 125x125 ECAL pixels centred on the seed HCAL tower's centre pixel."""
EG_CROP: Final = "e2e-eg-32: EB seed crystal at [15, 15], phi wrap, zero pad"

_TASKS: Final = ("classification", "regression")
_INPUT_KINDS: Final = ("image", "points")


@dataclass(frozen=True)
class Contract:
    """What an exported model expects and produces. Dict fields are treated as opaque JSON.

    ``normalisation`` is whatever the frames module serialises (its ``to_dict()``; an
    object with ``to_dict`` or a JSON string is converted); it is not interpreted here.

    ``class_names`` names the outputs: for binary classification (one logit) the
    negative then the positive class; for ``n`` classes one name per logit; for
    regression one name per regressed quantity (e.g. ``("jet_mass",)``).

    ``output_kind`` says whether a classifier's outputs are logits (ours) or already
    probabilities (many foreign models end in a softmax). ``kind`` is ``jet`` (125x125
    windows), ``fatjet`` (the same windows on R = 0.8 jets) or ``eg`` (32x32 crops); empty
    means "from the crop". ``truth_labels`` says which truth validates the model:
    ``label`` (the objects' label branch) or ``hadron_flavour`` (b / c / light jets). ``scalar_inputs`` name per-object quantities (``pt``, ``eta``, ``seed_row`` ...)
    or event branches (``MET_pt``, ``nVtx``) fed beside the frames, standardised by
    ``scalar_norm`` (``{name: [mean, std]}``) when given. ``points`` is the point-cloud
    spec of ``input_kind == "points"`` models. ``target`` describes a regression output
    (``name``, ``unit``, ``transform``). ``validity`` is the kinematic range the model was
    trained for (``pt_min``, ``pt_max``, ``abs_eta_max``): the main job measures it there.
    ``precision_variants`` records, per reduced precision (``fp16``, ``int8``), what the
    variant did to the held-out AUC (:mod:`~e2e_coffea.inference.precision`): a variant without a record, or
    losing more than the allowed AUC, is refused at load time.
    ``conditions`` are the conditions of its training samples (``pileup_mu``,
    ``mean_nvtx``, ``occupancy`` per channel: mean ``hits`` and summed ``energy`` per
    frame): ``run`` and ``Tagger`` warn when a sample is far outside them (a reader that
    predates the field ignores it).
    """

    task: str
    model_name: str
    channels: tuple[str, ...]
    frame_size: tuple[int, int]
    class_names: tuple[str, ...]
    channel_preset: str | None = None
    crop: str = E2E_JET_CROP
    normalisation: dict[str, Any] | None = None
    scalar_inputs: tuple[str, ...] = ()
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_kind: str = "image"
    input_names: tuple[str, ...] = ("frames",)
    output_names: tuple[str, ...] = ("outputs",)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    output_kind: str = "logits"
    points: dict[str, Any] | None = None
    scalar_norm: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    validity: dict[str, Any] | None = None
    truth_labels: str = "label"
    precision_variants: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    format_version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        for name in (
            "channels",
            "frame_size",
            "class_names",
            "scalar_inputs",
            "input_names",
            "output_names",
        ):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                msg = f"contract field {name!r} must be a list, got {value!r}"
                raise ContractError(msg)
            object.__setattr__(self, name, tuple(value))
        norm: object = self.normalisation  # as given: a Normalisation or its JSON text too
        if norm is not None and hasattr(norm, "to_dict"):  # a frames Normalisation object
            object.__setattr__(self, "normalisation", norm.to_dict())
        elif isinstance(norm, str):  # its JSON text
            try:
                parsed = loads_json(
                    norm, source="contract field 'normalisation'", max_bytes=MAX_FIELD_BYTES
                )
            except MalformedInputError as err:
                raise ContractError(str(err)) from err
            object.__setattr__(self, "normalisation", parsed)
        if not self.kind:
            object.__setattr__(self, "kind", "eg" if self.crop == EG_CROP else "jet")
        for name in _JSON_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            try:  # canonical JSON form, so that a round trip through the file compares equal
                object.__setattr__(self, name, json.loads(json.dumps(value, allow_nan=False)))
            except (TypeError, ValueError) as err:
                msg = f"contract field {name!r} is not JSON-serialisable: {err}"
                raise ContractError(msg) from err
        _validate(self)

    def __hash__(self) -> int:  # dict fields: hash the canonical JSON, so contracts can key caches
        return hash(tuple(sorted(self.to_metadata().items())))

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_outputs(self) -> int:
        """Width of the model output: 1 for binary classification."""
        if self.task == "classification" and len(self.class_names) == 2:
            return 1
        return len(self.class_names)

    @property
    def kinematic_range(self) -> KinematicRange | None:
        """``validity`` as the one kinematic-range type (None: the model names none)."""
        from ..frames.selection import KinematicRange

        return None if self.validity is None else KinematicRange.of(self.validity)

    def model_inputs(self) -> ModelInputs:
        """What this model eats, as the object that plans the branches and builds the
        inputs (:class:`~e2e_coffea.frames.model_inputs.ModelInputs`): the inverse of
        :func:`input_fields`."""
        from ..frames.model_inputs import ModelInputs
        from ..frames.normalisation import Normalisation
        from ..frames.pointcloud import PointCloudSpec

        points = self.input_kind == "points"
        return ModelInputs(
            "points" if points else "image",
            self.kind,
            () if points else self.channels,
            Normalisation.from_dict(self.normalisation) if self.normalisation else None,
            (PointCloudSpec.from_dict(self.points) if self.points else PointCloudSpec())
            if points
            else None,
            self.scalar_inputs,
            self.scalar_norm,
            self.frame_size,
        )

    def to_metadata(self) -> dict[str, str]:
        """``{"e2e_coffea.<field>": json}`` for ONNX ``metadata_props``, marker key included."""
        out = {MARKER_KEY: json.dumps(self.format_version)}
        for f in fields(self):
            if f.name != "format_version":
                out[PREFIX + f.name] = json.dumps(getattr(self, f.name), sort_keys=True)
        return out

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], *, source: str = "metadata") -> Contract:
        """Inverse of :meth:`to_metadata`; ContractError for foreign or damaged metadata."""
        if MARKER_KEY not in props:
            msg = f"{source}: not an e2e_coffea model (no {MARKER_KEY!r} in metadata_props; keys: {sorted(props)})"
            raise ContractError(msg)
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = MARKER_KEY if f.name == "format_version" else PREFIX + f.name
            if key not in props:
                if f.name in _REQUIRED:
                    msg = f"{source}: contract field {key!r} is missing"
                    raise ContractError(msg)
                continue
            try:  # a foreign model's author wrote these bytes: strict, bounded JSON
                values[f.name] = loads_json(
                    props[key],
                    source=f"{source}: contract field {key!r}",
                    max_bytes=MAX_FIELD_BYTES,
                )
            except MalformedInputError as err:
                raise ContractError(str(err)) from err
        version = values.get("format_version")
        if not isinstance(version, int) or version < 1:
            msg = f"{source}: contract version {version!r} is not a positive integer"
            raise ContractError(msg)
        if version > CONTRACT_VERSION:
            msg = f"{source}: contract version {version} is newer than this e2e_coffea reads ({CONTRACT_VERSION}); upgrade e2e-coffea"
            raise ContractError(msg)
        try:
            return cls(**values)
        except ContractError as err:
            msg = f"{source}: {err}"
            raise ContractError(msg) from err


_REQUIRED: Final = ("task", "model_name", "channels", "frame_size", "class_names", "format_version")
_JSON_FIELDS: Final = (
    "normalisation", "model_kwargs", "provenance", "metrics", "points", "scalar_norm",
    "target", "validity", "precision_variants", "conditions",
)  # fmt: skip
_KINDS: Final = OBJECT_KINDS


def _validate(c: Contract) -> None:
    def bad(what: str) -> None:
        msg = f"invalid contract: {what}"
        raise ContractError(msg)

    if c.task not in _TASKS:
        bad(f"task {c.task!r} is not one of {list(_TASKS)}")
    if c.input_kind not in _INPUT_KINDS:
        bad(f"input_kind {c.input_kind!r} is not one of {list(_INPUT_KINDS)}")
    for name in ("channel_preset", "crop"):
        value = getattr(c, name)
        if value is not None and not isinstance(value, str):
            bad(f"{name} must be a string, got {value!r}")
    model_name: object = c.model_name  # fields hold whatever a file's JSON held
    if not isinstance(model_name, str) or not model_name:
        bad(f"model_name {model_name!r} must be a non-empty string")
    for name in ("channels", "class_names", "scalar_inputs", "input_names", "output_names"):
        items = getattr(c, name)
        if not all(isinstance(s, str) and s for s in items):
            bad(f"{name} {list(items)} must hold non-empty strings")
        if len(set(items)) != len(items):
            bad(f"{name} {list(items)} has duplicates")
    if not c.channels:
        bad("channels is empty")
    if not c.input_names or not c.output_names:
        bad("input_names and output_names must not be empty")
    frame_size: tuple[object, ...] = c.frame_size
    if len(frame_size) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in frame_size
    ):
        bad(
            f"frame_size {c.frame_size!r} must be two positive integers: (H, W), or (points, features) for point clouds"
        )
    elif max(c.frame_size) > MAX_FRAME_SIDE or c.frame_size[0] * c.frame_size[1] > MAX_FRAME_CELLS:
        bad(
            f"frame_size {c.frame_size[0]}x{c.frame_size[1]} is too large: at most {MAX_FRAME_SIDE} a "
            f"side and {MAX_FRAME_CELLS} cells (the ECAL grid is 280x360; refused before any allocation)"
        )
    if c.task == "classification" and len(c.class_names) < 2:
        bad(f"classification needs >= 2 class_names, got {list(c.class_names)}")
    if c.task == "regression" and not c.class_names:
        bad("regression needs one name per output in class_names")
    for name in _JSON_FIELDS:
        value = getattr(c, name)
        if value is not None and not isinstance(value, dict):
            bad(f"{name} must be a JSON object, got {type(value).__name__}")
    if c.kind not in _KINDS:
        bad(f"kind {c.kind!r} is not one of {list(_KINDS)}")
    if c.truth_labels not in ("label", "hadron_flavour"):
        bad(f"truth_labels {c.truth_labels!r} is not 'label' or 'hadron_flavour'")
    if c.output_kind not in ("logits", "probabilities"):
        bad(f"output_kind {c.output_kind!r} is not 'logits' or 'probabilities'")
    if c.scalar_norm is not None:
        extra = sorted(set(c.scalar_norm) - set(c.scalar_inputs))
        if extra:
            bad(f"scalar_norm names {extra} that are not in scalar_inputs {list(c.scalar_inputs)}")
    if c.validity is not None:
        unknown = sorted(set(c.validity) - {"pt_min", "pt_max", "abs_eta_max"})
        if unknown:
            bad(f"validity keys {unknown} are not pt_min, pt_max, abs_eta_max")
    n_out = c.model_kwargs.get("n_outputs")
    if n_out is not None and n_out != c.n_outputs:
        bad(
            f"model has {n_out} output(s) but class_names {list(c.class_names)} imply {c.n_outputs}"
        )
    n_in = c.model_kwargs.get("in_channels")
    if n_in is not None and n_in != c.n_channels:
        bad(
            f"model takes {n_in} channel(s) but the contract lists {c.n_channels}: {list(c.channels)}"
        )
    n_sc = c.model_kwargs.get("n_scalars", 0)
    if c.model_kwargs and n_sc != len(c.scalar_inputs):
        bad(f"model takes {n_sc} scalar(s) but scalar_inputs is {list(c.scalar_inputs)}")


def input_fields(inputs: ModelInputs) -> dict[str, Any]:
    """The contract fields that describe a model's inputs (``Contract(**input_fields(x),
    ...)``): channels (or point features), frame size, input and object kind,
    normalisation, point-cloud spec, scalars and their standardisation."""
    from ..frames.normalisation import load_norm

    norm = inputs.norm
    if isinstance(norm, str):
        norm = load_norm(norm)
    return {
        "channels": inputs.names,
        "frame_size": inputs.size,
        "input_kind": inputs.input_kind,
        "kind": inputs.kind,
        "normalisation": None if norm is None else norm.to_dict(),
        "points": None if inputs.input_kind == "image" or inputs.points is None
        else inputs.points.to_dict(),
        "scalar_inputs": inputs.scalars,
        "scalar_norm": None if inputs.scalar_norm is None
        else {k: list(v) for k, v in inputs.scalar_norm.items()},
    }  # fmt: skip


def check_channels(contract: Contract, n_channels: int) -> None:
    """ChannelError unless a frame with ``n_channels`` channels fits ``contract``."""
    if n_channels != contract.n_channels:
        msg = (
            f"model {contract.model_name!r} expects {contract.n_channels} channel(s) "
            f"{list(contract.channels)}, got frames with {n_channels}"
        )
        raise ChannelError(msg)


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Read the contract of an exported ONNX file, with a clear ContractError if impossible."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        msg = f"{p}: no such model file"
        raise ContractError(msg)
    try:
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as err:
        msg = f"{p}: not a readable ONNX model ({type(err).__name__}: {err})"
        raise ContractError(msg) from err
    if not model.graph.node and not model.metadata_props:
        msg = f"{p}: not an ONNX model (no graph nodes and no metadata)"
        raise ContractError(msg)
    props: dict[str, str] = {}
    for m in model.metadata_props:
        if m.key in props:
            msg = (
                f"{p}: metadata_props names {m.key!r} twice (only one value can be the contract's)"
            )
            raise ContractError(msg)
        props[m.key] = m.value
    return Contract.from_metadata(props, source=str(p))
