"""``e2e-coffea taggers``: the shipped taggers, their contracts and validation AUCs."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["command", "describe_taggers"]


def describe_taggers() -> list[dict[str, Any]]:
    """One record per shipped tagger: name, task, path, channels, classes, AUCs, size."""
    from pathlib import Path

    from ..inference.taggers import list_taggers, resolve_tagger

    out = []
    for name in list_taggers():
        spec = resolve_tagger(name)
        c = spec.contract
        out.append(
            {
                "name": name,
                "task": c.provenance.get("tagger_task", c.task),
                "model": c.model_name,
                "path": spec.path,
                "channels": list(c.channels),
                "preset": c.channel_preset,
                "frame_size": list(c.frame_size),
                "classes": list(c.class_names),
                "auc": c.metrics.get("val_auc"),
                "test_auc": c.metrics.get("test_auc"),
                "bytes": Path(spec.path).stat().st_size,
            }
        )
    return out


@click.command("taggers")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def command(as_json: bool) -> None:
    """List the shipped taggers. Any command taking --tagger accepts these names or an .onnx path."""
    rows = describe_taggers()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no shipped taggers in this installation")
        return
    click.echo(
        f"{'name':<22} {'task':<9} {'classes':<20} {'channels':<8} {'val AUC':>8} {'size':>8}"
    )
    for r in rows:
        auc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
        click.echo(
            f"{r['name']:<22} {r['task']:<9} {'/'.join(r['classes']):<20} "
            f"{(r['preset'] or len(r['channels'])):<8} {auc:>8} {r['bytes'] / 1e3:>6.0f}kB"
        )
