"""Restate the |eta| acceptance in the shipped jet taggers' contracts (issue 20).

A jet tagger's 125x125 window must fit the ECAL grid, so its objects never reached beyond
|eta| = :func:`e2e_coffea.geometry.jet_frame_abs_eta_max` (1.392): training, the held-out
measurement and ``Tagger`` all drop jets outside the frame. The contracts of the taggers
trained before this was stated said |eta| < 2.4. This rewrites ``validity`` and the
held-out ``heldout_range`` of every shipped jet (and FatJet) tagger to the true
acceptance; the graph and weights are untouched (scores do not change), and a contract
that already says so is left as it is.

    python tools/restate-jet-acceptance.py            # rewrite in place
    python tools/restate-jet-acceptance.py --check    # exit 1 if any contract overstates
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from e2e_coffea.export import Contract, load_contract
from e2e_coffea.export.attach import update_contract
from e2e_coffea.export.inspect import file_sha256
from e2e_coffea.export.precision import VARIANT_DIR, variant_file, write_variant_contract
from e2e_coffea.geometry import jet_frame_abs_eta_max
from e2e_coffea.inference.shipped import list_taggers, resolve_tagger
from e2e_coffea.layouts import frame_of


def _narrowed(rng: dict[str, float] | None, eta_max: float) -> dict[str, float] | None:
    if rng is None or rng.get("abs_eta_max", eta_max) <= eta_max:
        return None
    return {**rng, "abs_eta_max": eta_max}


def _restate_variants(path: Path, base: Contract) -> None:
    """A precision variant carries its fp32 model's contract (without the variant records),
    and the fp32 contract records each variant file's sha256: rewrite both."""
    records = dict(base.precision_variants or {})
    for precision, record in records.items():
        if not str(record.get("file", "")).startswith(VARIANT_DIR):
            continue  # fp16 is converted from the fp32 file when the session is built
        # (a variant refused by its AUC gate has a record and no file)
        variant = variant_file(path, precision)
        if not variant.is_file() or load_contract(variant).validity == base.validity:
            continue
        write_variant_contract(variant, base)
        records[precision] = {**record, "sha256": file_sha256(variant)}
    if records != (base.precision_variants or {}):
        update_contract(path, precision_variants=records)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report, exit 1 if any overstates")
    args = ap.parse_args(argv)
    eta_max = jet_frame_abs_eta_max()
    overstated = []
    for name in list_taggers():
        path = resolve_tagger(name).path
        c = load_contract(path)
        if c.kind is None or frame_of(c.kind) != "jet":
            continue
        validity = _narrowed(c.validity, eta_max)
        heldout = _narrowed(c.metrics.get("heldout_range"), eta_max)
        if validity is None and heldout is None:
            if not args.check:
                _restate_variants(path, c)
            continue
        overstated.append(name)
        if args.check:
            sys.stdout.write(
                f"{name}: contract says {c.validity}, the frame reaches |eta| {eta_max}\n"
            )
            continue
        changes: dict[str, object] = {}
        if validity is not None:
            changes["validity"] = validity
        if heldout is not None:
            changes["metrics"] = {**c.metrics, "heldout_range": heldout}
        base = update_contract(path, **changes)  # the metadata only: scores do not change
        _restate_variants(path, base)
        sys.stdout.write(f"{name}: |eta| < {eta_max} stated\n")
    return 1 if (args.check and overstated) else 0


if __name__ == "__main__":
    sys.exit(main())
