"""``e2e-coffea taggers``: the shipped taggers, their contracts and validation AUCs."""

from __future__ import annotations

import json

import click

__all__ = ["command"]


@click.command("taggers")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def command(as_json: bool) -> None:
    """List the shipped taggers. Any command taking --tagger accepts these names or an .onnx path."""
    from ..inference.shipped import describe_taggers

    rows = describe_taggers()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no shipped taggers in this installation")
        return
    click.echo(
        f"{'name':<22} {'task':<9} {'classes':<20} {'channels':<8} {'val AUC':>8} "
        f"{'held-out':>8} {'pT range':>10} {'size':>8}"
    )
    for r in rows:
        auc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
        held = "-" if r["heldout_auc"] is None else f"{r['heldout_auc']:.3f}"
        v = r["validity"] or {}
        rng = f"{v['pt_min']:g}-{v['pt_max']:g}" if "pt_min" in v and "pt_max" in v else "-"
        click.echo(
            f"{r['name']:<22} {r['task']:<9} {'/'.join(r['classes']):<20} "
            f"{(r['preset'] or len(r['channels'])):<8} {auc:>8} {held:>8} {rng:>10} "
            f"{r['bytes'] / 1e3:>6.0f}kB"
        )
