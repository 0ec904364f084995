"""Per-channel normalisation that travels with a model (JSON), applied inside the builder.

For every pixel ``x`` of a channel, in this order:

1. zero suppression: ``|x| < threshold`` -> 0 (on the raw value; for the non-negative
   energy/count channels this is simply ``x < threshold``);
2. scale: ``x / scale``;
3. clip: ``x`` limited to ``[-clip_max, clip_max]`` when ``clip_max`` is set. The clip
   is symmetric because the signed channels need it most: at pile-up the dz significance
   of a track from another vertex is O(100-1000) (median 198 at mu = 35 in our samples),
   which would swamp every other pixel of the frame; clipped, such a track saturates at
   the edge while the primary vertex's tracks keep their value. For the non-negative
   channels this is the same as ``min(x, clip_max)``.

Presets live as JSON in ``e2e_coffea/data/norm/``; ``"none"`` is the identity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, ChannelError
from ..io.jsonfiles import loads_json

__all__ = [
    "ChannelNorm",
    "Normalisation",
    "list_norm_presets",
    "load_norm",
    "resolve_norm",
]

FORMAT: Final = "e2e-coffea-normalisation"
VERSION: Final = 1


@dataclass(frozen=True)
class ChannelNorm:
    """How one channel is normalised; the defaults leave it unchanged."""

    scale: float = 1.0
    clip_max: float | None = None
    threshold: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            msg = f"normalisation scale must be finite and > 0, got {self.scale!r}"
            raise BadInputError(msg)
        if self.clip_max is not None and not (math.isfinite(self.clip_max) and self.clip_max > 0):
            msg = f"normalisation clip_max must be finite and > 0, or null, got {self.clip_max!r}"
            raise BadInputError(msg)
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            msg = f"zero-suppression threshold must be finite and >= 0, got {self.threshold!r}"
            raise BadInputError(msg)

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.clip_max is None and self.threshold == 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "clip_max": self.clip_max, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChannelNorm:
        unknown = set(d) - {"scale", "clip_max", "threshold"}
        if unknown:
            msg = f"unknown channel-normalisation keys {sorted(unknown)}; expected scale, clip_max, threshold"
            raise BadInputError(msg)
        clip = d.get("clip_max")
        return cls(
            scale=float(d.get("scale", 1.0)),
            clip_max=None if clip is None else float(clip),
            threshold=float(d.get("threshold", 0.0)),
        )


@dataclass(frozen=True)
class Normalisation:
    """Named per-channel parameters; ``default`` covers channels not listed (or None)."""

    channels: Mapping[str, ChannelNorm] = field(default_factory=dict)
    name: str = ""
    source: str = ""
    default: ChannelNorm | None = None

    def for_channel(self, name: str) -> ChannelNorm:
        if name in self.channels:
            return self.channels[name]
        if self.default is not None:
            return self.default
        msg = (
            f"normalisation {self.name or '(unnamed)'!r} has no entry for channel {name!r}; "
            f"it covers {sorted(self.channels)}"
        )
        raise ChannelError(msg)

    def vectors(
        self, names: Sequence[str]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(threshold, scale, clip_max) per channel as float32; clip_max=inf when unset."""
        ns = [self.for_channel(n) for n in names]
        thr = np.array([n.threshold for n in ns], dtype=np.float32)
        scale = np.array([n.scale for n in ns], dtype=np.float32)
        clip = np.array(
            [np.inf if n.clip_max is None else n.clip_max for n in ns], dtype=np.float32
        )
        return thr, scale, clip

    def is_identity_for(self, names: Sequence[str]) -> bool:
        return all(self.for_channel(n).is_identity for n in names)

    # --- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "source": self.source,
            "channels": {k: v.to_dict() for k, v in self.channels.items()},
            "default": None if self.default is None else self.default.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Normalisation:
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            msg = (
                f"not an e2e-coffea normalisation (format={d.get('format')!r}, "
                f"version={d.get('version')!r}); expected format={FORMAT!r}, version={VERSION}"
            )
            raise BadInputError(msg)
        chans = d.get("channels") or {}
        default = d.get("default")
        return cls(
            channels={str(k): ChannelNorm.from_dict(v) for k, v in chans.items()},
            name=str(d.get("name", "")),
            source=str(d.get("source", "")),
            default=None if default is None else ChannelNorm.from_dict(default),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "normalisation JSON") -> Normalisation:
        d = loads_json(text, source=source, max_bytes=MAX_NORM_BYTES)
        if not isinstance(d, dict):
            msg = f"{source} must be an object, got {type(d).__name__}"
            raise BadInputError(msg)
        return cls.from_dict(d)


IDENTITY: Final = Normalisation(name="none", source="identity", default=ChannelNorm())


MAX_NORM_BYTES: Final = 16 * 1024 * 1024
"""Largest normalisation JSON read (one mean and std per channel: kilobytes)."""
NORM_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "norm"


def list_norm_presets() -> list[str]:
    return ["none", *sorted(p.stem for p in NORM_DIR.glob("*.json"))]


def load_norm(name: str) -> Normalisation:
    """A preset by name (``none`` or a JSON file of ``e2e_coffea/data/norm``)."""
    if name == "none":
        return IDENTITY
    path = NORM_DIR / f"{name}.json"
    if "/" in name or "\\" in name or not path.is_file():
        msg = f"unknown normalisation preset {name!r}; valid: {list_norm_presets()}"
        raise BadInputError(msg)
    return Normalisation.from_json(path.read_text(encoding="utf-8"))


def resolve_norm(norm: object) -> Normalisation | None:
    """A :class:`Normalisation`, a preset name or ``None``, checked: builders pass the
    user's argument through (``object`` because anything may arrive here)."""
    if norm is None or isinstance(norm, Normalisation):
        return norm
    if isinstance(norm, str):
        return load_norm(norm)
    msg = f"norm must be a Normalisation, a preset name or None, got {type(norm).__name__}"
    raise BadInputError(msg)
