"""Bring your own model: give a foreign ONNX file our contract, or say what it lacks.

A model trained elsewhere (another framework, another group) is refused by the toolkit
until it carries a contract: which channels in which order, the frame size and crop,
the normalisation, the classes. :func:`attach_contract` writes a copy with that contract
in its metadata after checking it against the graph: the declared input shape must fit
the channels and frame size, and one onnxruntime call on a zero batch must give one
output per class (or one logit for two classes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import BadInputError, ContractError
from ..io.atomic import atomic_write
from ..layouts import OBJECT_KINDS, frame_of, is_object_kind
from .contract import E2E_JET_CROP, EG_CROP, PREFIX, Contract
from .inspect import TensorInfo, check_model_io, expected_inputs, file_sha256, model_io

__all__ = [
    "attach_contract",
    "check_frames_normalisation",
    "describe_model",
    "describe_normalisation",
    "probe_outputs",
    "record_metrics",
    "update_contract",
]


def probe_outputs(path: str | os.PathLike[str], contract: Contract) -> tuple[int, ...]:
    """Run the model once on a zero batch of 2 and check its first output's width."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:
        msg = f"{Path(path).name}: onnxruntime cannot load it ({type(err).__name__}: {err})"
        raise ContractError(" ".join(msg.split())) from err
    feed = {}
    for name, dims in expected_inputs(contract).items():
        shape = [2 if isinstance(d, str) else int(d) for d in dims]
        feed[name] = np.zeros(shape, np.float32)
    try:
        out = np.asarray(sess.run(None, feed)[0])
    except Exception as err:
        shapes = {k: v.shape for k, v in feed.items()}
        msg = (
            f"{Path(path).name}: the model fails on a zero batch of inputs {shapes}: "
            f"{type(err).__name__}: {err}{_batch_hint(path)}"
        )
        raise ContractError(" ".join(msg.split())) from err
    width = out.shape[-1] if out.ndim == 2 else 1
    binary = contract.task == "classification" and len(contract.class_names) == 2
    allowed = {1, 2} if binary else {contract.n_outputs}
    if out.ndim > 2 or out.shape[0] != 2 or width not in allowed:
        msg = (
            f"{Path(path).name}: on a batch of 2 the model gives output shape {out.shape}, but "
            f"classes {list(contract.class_names)} need (2, {' or '.join(map(str, sorted(allowed)))})"
        )
        raise ContractError(msg)
    return tuple(out.shape)


def _batch_hint(path: str | os.PathLike[str]) -> str:
    """Why a model fails on a batch of 2, when its graph says: a fixed batch size."""
    inputs, _ = model_io(path)
    fixed = {i.name: i.dims[0] for i in inputs if i.dims and isinstance(i.dims[0], int)}
    named = ", ".join(f"{k!r} has batch size {v}" for k, v in fixed.items())
    why = f"the graph's input {named}: a fixed batch. " if fixed else ""
    return (
        f" (hint: {why}Taggers run batches of any size: export with a dynamic batch axis, "
        "torch.onnx.export(..., dynamic_axes={'<input>': {0: 'batch'}, '<output>': {0: 'batch'}}) "
        "or, with dynamo=True, dynamic_shapes=({0: torch.export.Dim('batch')},))"
    )


def describe_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The graph's inputs and outputs, and the contract or the reason there is none."""
    from .contract import load_contract

    inputs, outputs = model_io(path)
    info: dict[str, Any] = {
        "path": str(path),
        "inputs": [_tensor(t) for t in inputs],
        "outputs": [_tensor(t) for t in outputs],
    }
    try:
        info["contract"] = load_contract(path)
    except ContractError as err:
        info["contract"] = None
        info["missing"] = str(err)
    return info


def _tensor(t: TensorInfo) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.dims), "dtype": t.dtype}


def attach_contract(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    channels: Sequence[str] | str,
    classes: Sequence[str],
    kind: str,
    task: str = "classification",
    norm: str | os.PathLike[str] | None = "preset",
    frame_size: tuple[int, int] | None = None,
    outputs: str = "logits",
    scalar_inputs: Sequence[str] = (),
    model_name: str | None = None,
    frames: str | os.PathLike[str] | None = None,
) -> Contract:
    """Write ``dst``: a copy of the ONNX model ``src`` with an e2e-coffea contract.

    ``channels``: a preset name (``tau13``) or channel names in the model's input order.
    ``norm``: ``preset`` (the channel preset's normalisation), ``none``, or a JSON file
    of a :class:`~e2e_coffea.frames.Normalisation`. ``outputs``: whether the model gives
    logits or probabilities. ``frames``: a frames npz the model was trained on; the
    normalisation recorded must be the one its frames carry (raw frames of ``e2e-coffea
    frames`` need ``norm="none"``), or nothing is written. Returns the contract written."""
    import onnx

    from ..frames import resolve_channels

    src, dst = Path(src), Path(dst)
    if not is_object_kind(kind):
        msg = f"--kind must be one of {list(OBJECT_KINDS)}, got {kind!r}"
        raise BadInputError(msg)
    specs = resolve_channels(channels, frame=frame_of(kind))
    names = tuple(s.name for s in specs)
    preset = channels if isinstance(channels, str) else None
    size = frame_size or ((125, 125) if frame_of(kind) == "jet" else (32, 32))
    inputs, outs = model_io(src)
    if not outs:
        msg = f"{src.name}: the graph has no outputs"
        raise ContractError(msg)
    want_inputs = 2 if scalar_inputs else 1
    if len(inputs) != want_inputs:
        msg = f"{src.name}: the graph takes {len(inputs)} input(s) {[i.name for i in inputs]}, expected {want_inputs}"
        raise ContractError(msg)
    contract = Contract(
        task=task, model_name=model_name or src.stem, channels=names, frame_size=size,
        class_names=tuple(classes), channel_preset=preset, kind=kind,
        crop=EG_CROP if kind == "eg" else E2E_JET_CROP,
        normalisation=_normalisation(norm, preset, names),
        scalar_inputs=tuple(scalar_inputs), input_names=tuple(i.name for i in inputs),
        output_names=(outs[0].name,), output_kind=outputs,
        provenance={"attached_from": src.name, "attached_by": f"e2e-coffea {_version()}"},
    )  # fmt: skip
    if frames is not None:
        check_frames_normalisation(frames, contract)
    check_model_io(src, contract)
    probe_outputs(src, contract)
    contract = replace(
        contract, provenance={**contract.provenance, "source_sha256": file_sha256(src)}
    )
    _save_with_contract(onnx.load(str(src)), contract, dst)
    return contract


def describe_normalisation(contract: Contract) -> str:
    """One line on what the tagger does to the frames before the model sees them."""
    if contract.normalisation is None:
        return "none: the model gets raw frame values (GeV, ns)"
    from ..frames.normalisation import Normalisation

    nrm = Normalisation.from_dict(contract.normalisation)
    if nrm.is_identity_for(contract.channels):
        return f"{nrm.name or 'identity'}: the model gets raw frame values (GeV, ns)"
    thr, scale, clip = nrm.vectors(list(contract.channels))
    per = ", ".join(
        f"{c} {'>' + format(t, 'g') + ' ' if t else ''}/{s:g}{'' if np.isinf(m) else f' in +-{m:g}'}"
        for c, t, s, m in zip(contract.channels, thr, scale, clip, strict=True)
    )
    return f"{nrm.name or '(unnamed)'}, applied by the tagger before the model: {per}"


def check_frames_normalisation(frames: str | os.PathLike[str], contract: Contract) -> None:
    """BadInputError unless the frames file ``frames`` carries the normalisation that
    ``contract`` records (and its channels): a model trained on raw frames fed normalised
    ones (or the reverse) scores garbage without any error."""
    from ..frames.normalisation import IDENTITY, Normalisation
    from ..frames.npz_stream import read_frames_metadata

    meta = read_frames_metadata(frames)
    if "normalisation" not in meta:
        msg = (
            f"--frames {frames}: the file does not say how its frames are normalised (written "
            f"by an older e2e-coffea, or not by `e2e-coffea frames`); rebuild it to check"
        )
        raise BadInputError(msg)
    names = list(contract.channels)
    if meta.get("channels", tuple(names)) != tuple(names):
        msg = f"--frames {frames}: frames of channels {list(meta['channels'])}, the contract's are {names}"
        raise BadInputError(msg)
    own = Normalisation.from_dict(meta["normalisation"])
    rec = (
        IDENTITY
        if contract.normalisation is None
        else Normalisation.from_dict(contract.normalisation)
    )
    if all(
        np.array_equal(a, b) for a, b in zip(own.vectors(names), rec.vectors(names), strict=True)
    ):
        return
    fix = (
        "--norm none" if own.is_identity_for(names)
        else f"--norm preset with --preset {own.name}, or --norm a JSON file of it"
    )  # fmt: skip
    msg = (
        f"--frames {frames} hold frames normalised with {own.name!r} ('none': raw values), but "
        f"the contract would record {rec.name!r}: the tagger would feed the model inputs unlike "
        f"those it was trained on; give {fix}"
    )
    raise BadInputError(msg)


def record_metrics(path: str | os.PathLike[str], metrics: dict[str, Any]) -> Contract:
    """Add ``metrics`` (e.g. a held-out AUC measured after training) to the contract of
    the e2e-coffea model ``path``, in place; the graph and weights are untouched."""
    from .contract import load_contract

    return update_contract(path, metrics={**load_contract(path).metrics, **metrics})


def update_contract(path: str | os.PathLike[str], **fields: Any) -> Contract:
    """Replace contract ``fields`` (``validity=...``, ``metrics=...``) of the e2e-coffea
    model ``path``, in place and checked like any contract; the graph and weights are
    untouched, so the scores do not change."""
    import onnx

    from .contract import load_contract

    p = Path(path)
    contract = replace(load_contract(p), **fields)  # validated again, as any contract
    _save_with_contract(onnx.load(str(p)), contract, p)
    return contract


def _save_with_contract(model: Any, contract: Contract, dst: Path) -> None:
    """Write ``model`` to ``dst`` (atomically) with ``contract`` as its only e2e-coffea
    metadata."""
    import onnx

    keep = [p for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in contract.to_metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dst) as tmp:
        onnx.save(model, str(tmp))


def _normalisation(
    norm: str | os.PathLike[str] | None, preset: str | None, names: tuple[str, ...]
) -> dict[str, Any] | None:
    from ..frames.normalisation import MAX_NORM_BYTES, Normalisation, load_norm
    from ..io.jsonfiles import read_regular

    if norm in (None, "none"):
        return None
    if norm == "preset":
        if preset is None:
            msg = "--norm preset needs --preset (a channel list has no preset normalisation); give --norm none or a JSON file"
            raise BadInputError(msg)
        return load_norm(preset).to_dict()
    p = Path(norm)
    try:
        nrm = Normalisation.from_json(
            read_regular(p, what="--norm", max_bytes=MAX_NORM_BYTES), source=f"--norm {p}"
        )
    except BadInputError:
        raise
    except OSError as err:
        msg = f"--norm {p}: cannot be read ({err.strerror or err})"
        raise BadInputError(msg) from err
    except (ValueError, TypeError, AttributeError) as err:
        msg = f"--norm {p}: not a normalisation JSON ({err})"
        raise BadInputError(msg) from err
    nrm.vectors(list(names))  # every channel must be covered
    return nrm.to_dict()


def _version() -> str:
    from ..version import __version__

    return __version__
