"""``e2e-coffea doctor``: versions, providers, GPUs and a smoke inference on each device."""

from __future__ import annotations

import json

import click

from .options import device_option

__all__ = ["command"]


@click.command("doctor")
@device_option(
    "auto",
    "cuda: exit 1 unless CUDA inference works here and matches the CPU; auto: check "
    "the GPU when one is usable, and only warn when it is not.",
)
@click.option(
    "--tagger",
    default=None,
    metavar="NAME_OR_PATH",
    help="Tagger for the smoke inference [default: tau_resnet15].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(device: str, tagger: str | None, as_json: bool) -> None:
    """Check what this machine can run inference on, by running it."""
    from ..inference.doctor import SCORE_TOLERANCE, SMOKE_TAGGER, check_report, diagnose

    report = diagnose(device, tagger or SMOKE_TAGGER)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"python          {report.python}")
        for pkg, ver in report.versions.items():
            click.echo(f"{pkg:15s} {ver or '-'}")
        click.echo(f"providers       {', '.join(report.providers) or 'none (no onnxruntime)'}")
        if report.gpus:
            for line in report.gpus:
                click.echo(f"GPU             {line}")
            click.echo(f"CUDA session    {report.cuda_session}")
            click.echo(f"CUDA libs       {', '.join(report.cuda_libraries) or 'none loaded'}")
        else:
            click.echo("GPU: none (torch sees no CUDA device)")
        click.echo(f"auto picks      {report.auto}")
        for s in report.smoke:
            if s.error:
                state = f"FAILED: {s.error}"
            else:
                diff = (
                    ""
                    if s.max_abs_diff_vs_cpu is None
                    else f"; max |score - cpu score| {s.max_abs_diff_vs_cpu:.2g} "
                    f"(allowed {SCORE_TOLERANCE:g})"
                )
                state = (
                    f"{'ok' if s.ok else 'WRONG'}: {s.objects} objects in {s.seconds:.2f} s{diff}"
                )
            click.echo(f"smoke {s.device:7s} {report.tagger}: {state}")
    check_report(report, device)
