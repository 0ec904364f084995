"""``e2e-coffea run``: the main job. Frames + taggers per chunk, hists, summary and a ROC plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .options import (
    INFERENCE_PRECISION,
    branches_option,
    chunksize_option,
    device_option,
    precision_option,
    workers_option,
)

if TYPE_CHECKING:
    from ..hists.report import RunReport

__all__ = ["command"]


@click.command("run")
@click.option(
    "--fileset",
    type=click.Path(path_type=Path),
    required=True,
    help="coffea-style fileset JSON (e2e-coffea generate writes one).",
)
@click.option(
    "--tagger",
    "taggers",
    multiple=True,
    required=True,
    metavar="NAME_OR_PATH",
    help="Shipped tagger name (see `e2e-coffea taggers`) or .onnx path; repeatable.",
)
@click.option(
    "--executor",
    type=click.Choice(["iterative", "futures", "dask"]),
    default="iterative",
    show_default=True,
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Dask scheduler address; without it --executor dask starts a local cluster.",
)
@workers_option(1)
@click.option(
    "--gpu-workers",
    type=int,
    default=0,
    show_default=True,
    help="Workers tagged GPU=1 (one thread each); chunk tasks go to them.",
)
@chunksize_option(
    None,
    "[default: 10000; for e2e-layout files, as many events as fit 1 GiB of the dense "
    "images the taggers read]",
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Exit 0 even when entries were not processed (with --skip-bad-files), or a ROC lacks "
    "its background sample; summary.json says which.",
)
@click.option(
    "--skip-bad-files",
    is_flag=True,
    help="Go on without unreadable files or failing chunks, and list them in summary.json.",
)
@click.option(
    "--retries", type=int, default=0, show_default=True, help="Retries per chunk (every executor)."
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep each chunk's output here; a rerun of the same work only processes missing "
    "chunks (a directory written for other work is refused).",
)
@click.option(
    "--recompute-checkpoints",
    is_flag=True,
    help="Discard the checkpoints in --checkpoint-dir (of this or other work) and redo every chunk.",
)
@device_option("auto", "Inference runs there.")
@click.option(
    "--cluster",
    type=click.Path(path_type=Path),
    default=None,
    metavar="CONFIG.yaml",
    help="Facility config (see facility/): start its workers and run there with Dask; "
    "also writes facility.json.",
)
@click.option(
    "--triton",
    default=None,
    metavar="[grpc://|http://]HOST:PORT",
    help="Send frames to a Triton server serving each tagger under its name: its gRPC "
    "endpoint (Triton's default port 8001), or http://HOST:PORT (8000). Binary tensors.",
)
@click.option(
    "--triton-wire",
    type=click.Choice(["dense", "sparse"]),
    default="dense",
    show_default=True,
    help="With --triton: send dense frames (a server holding only the ONNX models) or each "
    "object's hits, from which the server builds the frames (triton-repo --wire sparse; "
    "sparse-layout files only; no mean images).",
)
@click.option(
    "--lumi",
    type=float,
    default=1.0,
    show_default=True,
    metavar="FB",
    help="Luminosity in fb^-1: objects are weighted by cross-section x lumi / events where the "
    "fileset's metadata carries them (unit weights otherwise).",
)
@click.option("--unweighted", is_flag=True, help="Fill every object with weight 1.")
@precision_option(detail=INFERENCE_PRECISION)
@branches_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
def command(**options: Any) -> None:
    """Run taggers over a fileset and write output.zip, summary.json and roc.png to --out."""
    from .. import run
    from ..hists.report import IncompleteRunError

    try:  # every option is run()'s keyword of the same name (tests/test_api.py)
        report = run(**options)
    except IncompleteRunError as err:
        _echo_report(err.report)
        raise
    _echo_report(report)


def _echo_report(report: RunReport) -> None:
    """What the run printed: entries, throughput, one line per tagger, files, notes."""
    summary = report.summary()
    e = summary["entries"]
    click.echo(
        f"entries {e['processed']}/{e['expected']} in chunks of {report.chunksize}, "
        f"{summary['throughput']['jets_per_s']:.0f} jets/s, "
        f"{summary['throughput']['events_per_s']:.0f} events/s"
    )
    for name, t in summary["taggers"].items():
        click.echo(f"  {name}: {_tagger_line(t)}")
    click.echo("wrote " + ", ".join(str(p) for p in report.written.values()))
    for ds, missing in summary["missing_branches"].items():
        for branch, instead in missing.items():
            click.echo(f"note: dataset {ds!r} has no {branch}: {instead}")
    for name, notes in summary["notes"].items():
        for note in notes:
            click.echo(f"note: {name}: {note}")
    for line in summary.get("warnings", []):
        click.echo(f"WARNING: {line}", err=True)
    if summary["failed"]:
        click.echo(
            f"WARNING: {len(summary['failed'])} file/chunk range(s) not processed; see summary.json",
            err=True,
        )


def _auc(t: dict[str, Any]) -> str:
    """``0.9550 +- 0.0120 (weighted; effective objects: signal 20.3, background 26.1)``."""
    err = "n/a" if t.get("auc_err") is None else f"{t['auc_err']:.4f}"
    if t.get("auc") is None:
        return "n/a"
    n = t.get("n_eff") or {}
    how = "weighted; effective objects" if t.get("auc_weighted") else "unweighted; objects"
    size = f"signal {n.get('signal', 0):.1f}, background {n.get('background', 0):.1f}"
    return f"{t['auc']:.4f} +- {err} ({how}: {size})"


def _tagger_line(t: dict[str, Any]) -> str:
    """One console line per tagger: AUC, AUC per class, or response and resolution."""
    note = f" ({t['note']})" if t.get("note") else ""
    if t.get("task") == "regression":
        if t.get("response_median") is None or t.get("resolution") is None:
            return f"{t['target']}: {t['n_objects']} objects regressed, no response{note}"
        line = (
            f"{t['target']} response median {t['response_median']:.3f}, resolution "
            f"{t['resolution']:.3f} on {t['n_with_truth']} of {t['n_objects']} objects"
        )
        base = t.get("baseline") or {}
        if base.get("response_median") is not None and base.get("resolution") is not None:
            line += (
                f"; baseline ({base['description']}) median {base['response_median']:.3f}, "
                f"resolution {base['resolution']:.3f}"
            )
        return line
    if "per_class" in t:
        per = ", ".join(f"{c} {_auc(v)}" for c, v in t["per_class"].items())
        pairs = ", ".join(
            f"{k} {_auc(v)}"
            for k, v in (t.get("pairwise") or {}).items()
            if v.get("auc") is not None
        )
        pairwise = f"; pairwise AUC {pairs}" if pairs else ""
        return f"one-vs-rest AUC {per or 'n/a'} on {t['n_jets']} objects{pairwise}{note}"
    if t.get("auc") is None and t.get("note"):
        return str(t["note"])  # why there is none, in place of an empty ROC's numbers
    return (
        f"AUC {_auc(t)} on {t['n_jets']} objects "
        f"(signal {t['signal']}, background {t['background']}){_headline(t)}"
    )


def _headline(t: dict[str, Any]) -> str:
    """``; headline AUC 0.9370 +- 0.0100 (pT-matched); unweighted AUC 0.9800; best single
    feature ...`` when the summary has them."""
    phys = t.get("physical") or {}
    if phys.get("auc_headline") is None:
        return ""
    text = (
        f"; headline AUC {phys['auc_headline']:.4f} +- {phys['auc_headline_err']:.4f} (pT-matched)"
    )
    if phys.get("auc_unweighted") is not None:
        text += f"; unweighted AUC {phys['auc_unweighted']:.4f}"
    base = {k: v for k, v in (phys.get("baselines") or {}).items() if k != "pthat"}
    # pT-hat is a process label (0 for processes without one): never "the" best feature
    best = max(base.items(), key=lambda kv: kv[1].get("auc_headline") or 0.0, default=None)
    if best is not None and best[1].get("auc_headline") is not None:
        text += f"; best single feature {best[0]} {best[1]['auc_headline']:.3f}"
    return text
