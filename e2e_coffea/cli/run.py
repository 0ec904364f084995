"""``e2e-coffea run``: the main job. Frames + taggers per chunk, hists, summary and a ROC plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from .options import branches_option, precision_option

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
@click.option("--workers", type=int, default=1, show_default=True, help="CPU workers.")
@click.option(
    "--gpu-workers",
    type=int,
    default=0,
    show_default=True,
    help="Workers tagged GPU=1 (one thread each); chunk tasks go to them.",
)
@click.option(
    "--chunksize",
    type=int,
    default=None,
    help="Events per chunk [default: 10000; for e2e-layout files, as many events as "
    "fit 1 GiB of the dense images the taggers read]",
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
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
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
    "triton_url",
    default=None,
    metavar="[grpc://|http://]HOST:PORT",
    help="Send frames to a Triton server serving each tagger under its name: its gRPC "
    "endpoint (Triton's default port 8001), or http://HOST:PORT (8000). Binary tensors.",
)
@click.option(
    "--lumi",
    "lumi_fb",
    type=float,
    default=1.0,
    show_default=True,
    metavar="FB",
    help="Luminosity in fb^-1: objects are weighted by cross-section x lumi / events where the "
    "fileset's metadata carries them (unit weights otherwise).",
)
@click.option("--unweighted", is_flag=True, help="Fill every object with weight 1.")
@precision_option
@branches_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
def command(
    fileset: Path,
    taggers: tuple[str, ...],
    executor: Literal["iterative", "futures", "dask"],
    scheduler: str | None,
    workers: int,
    gpu_workers: int,
    chunksize: int | None,
    skip_bad_files: bool,
    allow_incomplete: bool,
    retries: int,
    checkpoint_dir: Path | None,
    recompute_checkpoints: bool,
    device: Literal["auto", "cpu", "cuda"],
    cluster: Path | None,
    triton_url: str | None,
    precision: str,
    profile: str | None,
    lumi_fb: float,
    unweighted: bool,
    out: Path,
) -> None:
    """Run taggers over a fileset and write output.zip, summary.json and roc.png to --out."""
    from ..hists.summary import plot_rocs, roc_for_tagger, summarize
    from ..inference.taggers import resolve_tagger
    from ..runner import run
    from ..runner.outputs import check_out_dir, write_run_outputs

    check_out_dir(out)
    specs = [resolve_tagger(t) for t in taggers]
    facility = None
    if cluster is not None:
        if scheduler:
            msg = "--cluster and --scheduler are exclusive: the config says where the workers are"
            raise click.UsageError(msg)
        from ..facility import run_on_cluster

        result, facility = run_on_cluster(
            cluster,
            fileset,
            specs,
            gpu_requested=gpu_workers > 0 or device == "cuda",
            chunksize=chunksize,
            skip_bad_files=skip_bad_files,
            retries=retries,
            checkpoint_dir=checkpoint_dir,
            recompute_checkpoints=recompute_checkpoints,
            device=device,
            triton_url=triton_url,
            precision=precision,
            branches=profile,
            lumi_fb=None if unweighted else lumi_fb,
        )
    else:
        result = run(
            fileset,
            specs,
            executor=executor,
            workers=workers,
            gpu_workers=gpu_workers,
            scheduler=scheduler,
            chunksize=chunksize,
            skip_bad_files=skip_bad_files,
            retries=retries,
            checkpoint_dir=checkpoint_dir,
            recompute_checkpoints=recompute_checkpoints,
            device=device,
            triton_url=triton_url,
            precision=precision,
            branches=profile,
            lumi_fb=None if unweighted else lumi_fb,
        )
    summary = summarize(result, specs)
    rocs = {}
    for spec in specs:
        if summary["taggers"][spec.name]["auc"] is not None:
            rocs[spec.name] = roc_for_tagger(
                result.output["hists"], spec.name, spec.contract.class_names
            )[0]
    written = write_run_outputs(
        out,
        result.output,
        summary,
        plot_roc=(lambda path: plot_rocs(rocs, path)) if rocs else None,
        facility=facility,
    )
    e = summary["entries"]
    click.echo(
        f"entries {e['processed']}/{e['expected']} in chunks of {result.chunksize}, "
        f"{summary['throughput']['jets_per_s']:.0f} jets/s, "
        f"{summary['throughput']['events_per_s']:.0f} events/s"
    )
    for name, t in summary["taggers"].items():
        click.echo(f"  {name}: {_tagger_line(t)}")
    click.echo("wrote " + ", ".join(str(p) for p in written.values()))
    for ds, missing in summary["missing_branches"].items():
        for branch, instead in missing.items():
            click.echo(f"note: dataset {ds!r} has no {branch}: {instead}")
    for name, notes in summary["notes"].items():
        for note in notes:
            click.echo(f"note: {name}: {note}")
    if summary["failed"]:
        click.echo(
            f"WARNING: {len(summary['failed'])} file/chunk range(s) not processed; see summary.json",
            err=True,
        )
    if summary["incomplete_taggers"] and not allow_incomplete and result.complete:
        from ..runner import RunFailedError

        name, why = next(iter(summary["incomplete_taggers"].items()))
        msg = (
            f"incomplete result: {name}: {why} (the score histograms are in "
            f"{out / 'output.zip'}); --allow-incomplete accepts a result without an AUC"
        )
        raise RunFailedError(msg)
    if not result.complete and not allow_incomplete:
        from ..runner import RunFailedError

        e = summary["entries"]
        lost = (
            f"; dataset(s) {summary['lost_datasets']} lost entirely"
            if summary["lost_datasets"]
            else ""
        )
        msg = (
            f"incomplete run: {e['processed']} of {e['expected']} entries processed, "
            f"{len(summary['failed'])} range(s) failed{lost} (listed in {out / 'summary.json'}); "
            f"--allow-incomplete accepts a partial result"
        )
        raise RunFailedError(msg)


def _auc(t: dict[str, object]) -> str:
    err = "n/a" if t.get("auc_err") is None else f"{t['auc_err']:.4f}"
    return "n/a" if t.get("auc") is None else f"{t['auc']:.4f} +- {err}"


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
        return f"one-vs-rest AUC {per or 'n/a'} on {t['n_jets']} objects{note}"
    if t.get("auc") is None and t.get("note"):
        return str(t["note"])  # why there is none, in place of an empty ROC's numbers
    return (
        f"AUC {_auc(t)} on {t['n_jets']} objects "
        f"(signal {t['signal']}, background {t['background']})"
    )
