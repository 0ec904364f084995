"""``e2e-coffea generate``: Pythia 8 + the CMS-like detector -> ROOT files and a fileset."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
from tqdm.auto import tqdm

__all__ = ["command"]


@click.command("generate")
@click.option(
    "--process",
    "processes",
    multiple=True,
    required=True,
    metavar="NAME",
    help="tau, qcd, qcd_boosted, qcd_em, wjets, electron, photon, quark, gluon or top; repeatable.",
)
@click.option("--events", "n_events", type=int, required=True, help="Events per process.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--layout",
    type=click.Choice(["sparse", "e2e", "both"]),
    default="sparse",
    show_default=True,
    help="File layout(s) to write.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Master seed (0..900000000).")
@click.option(
    "--pileup",
    type=float,
    default=0.0,
    show_default=True,
    help="Mean number of minimum-bias pile-up interactions (Poisson).",
)
@click.option(
    "--nproc",
    type=int,
    default=1,
    show_default=True,
    help="Processes on this machine, one file each.",
)
@click.option("--events-per-file", type=int, default=500, show_default=True)
@click.option(
    "--pthat-datasets",
    is_flag=True,
    help="One dataset per pT-hat bin (qcd_pthat30to80 ...), each with its own xsec_pb.",
)
def command(
    processes: tuple[str, ...],
    n_events: int,
    out: Path,
    layout: Literal["sparse", "e2e", "both"],
    seed: int,
    pileup: float,
    nproc: int,
    events_per_file: int,
    pthat_datasets: bool,
) -> None:
    """Generate labelled samples with Pythia 8 and a parametric CMS-like detector.

    Processes: tau (DY->tautau, hadronic), qcd (dijets in pT-hat bins), qcd_em
    (EM-enriched QCD), electron (DY->ee), photon (prompt photon), quark, gluon
    (enriched jet samples), top (boosted ttbar, pT-hat > 400 GeV), qcd_boosted (QCD,
    pT-hat 300-800 GeV, for FatJets), wjets (W -> e/mu nu + jet, the tau fake source).
    """
    from ..sim.generate import generate, validate_request

    validate_request(
        processes,
        n_events,
        out,
        seed=seed,
        pileup=pileup,
        nproc=nproc,
        events_per_file=events_per_file,
        layout=layout,
    )
    total = n_events * len(processes)
    with tqdm(total=total, unit="ev", desc="generate", disable=None) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        paths = generate(
            processes,
            n_events,
            out,
            layout=layout,
            seed=seed,
            pileup=pileup,
            nproc=nproc,
            events_per_file=events_per_file,
            progress=advance,
            pthat_datasets=pthat_datasets,
        )
    for lay, p in sorted(paths.items()):
        if lay != "default":
            click.echo(f"{lay:>6} fileset: {p}")
