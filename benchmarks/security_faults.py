"""Inject each fault of the "nothing lost, nobody in" issue into one e2e-coffea tree.

One JSON line per fault: what happened (did planted code run, exit code, the last line
of stderr, files changed). Run it once with the tree before the fix and once after:

    PYTHONPATH=<old tree> python benchmarks/security_faults.py before > before.jsonl
    PYTHONPATH=<new tree> python benchmarks/security_faults.py after > after.jsonl

Subprocesses run in a scratch folder: ``python -c`` puts the working directory first on
``sys.path``, which must not be a checkout. It generates a tau + qcd sample (40 events each, sparse layout) in $E2E_FAULTS_DIR
(default /tmp/security-faults) and uses the shipped tau/eg taggers. The CPU only.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("E2E_FAULTS_DIR", "/tmp/security-faults"))
SAMPLE = ROOT / "sample"
FILESET = SAMPLE / "fileset.sparse.json"
LABEL = sys.argv[1]
WORK = ROOT / f"work-{LABEL}"
shutil.rmtree(WORK, ignore_errors=True)
WORK.mkdir(parents=True)
if not FILESET.is_file():
    from e2e_coffea.sim.generate import generate

    generate(["qcd", "tau"], 40, SAMPLE, layout="sparse", seed=3)
NEW = False
try:
    import e2e_coffea.runner.checkpoints  # noqa: F401

    NEW = True
except ImportError:
    pass


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def report(fault: str, **what) -> None:
    print(json.dumps({"tree": LABEL, "fault": fault, **what}, default=str), flush=True)


def cli(*args: str, timeout: float = 600) -> tuple[int, str, float]:
    code = "import sys; from e2e_coffea.cli import main; sys.exit(main())"
    t0 = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-c", code, "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=WORK,
    )
    err = p.stderr.strip().splitlines()
    return p.returncode, (err[-1] if err else ""), round(time.monotonic() - t0, 1)


def run_args(tagger: str, out: Path, *extra: str) -> list[str]:
    return ["--fileset", str(FILESET), "--tagger", tagger, "--chunksize", "15", "--device",
            "cpu", "--out", str(out), *extra]  # fmt: skip


def chunk_ranges() -> list[tuple[str, str, int, int]]:
    import uproot

    out = []
    for ds in ("qcd", "tau"):
        path = SAMPLE / ds / f"{ds}_000.sparse.root"
        with uproot.open(path) as f:
            uid = str(__import__("uuid").UUID(bytes=f.file.uuid.bytes))
        for a, b in ((0, 14), (14, 27), (27, 40)):
            out.append((ds, uid, a, b))
    return out


# 1 crafted output.pkl read by the dashboards
def crafted_output() -> None:
    d, marker = WORK / "run-pkl", WORK / "pwned-dashboard"
    d.mkdir()
    (d / "output.pkl").write_bytes(pickle.dumps({"hists": Payload(marker)}))
    from e2e_coffea.dashboards import PerformanceDashboard

    try:
        PerformanceDashboard.from_run(d)
        outcome = "returned"
    except Exception as err:
        outcome = f"{type(err).__name__}: {str(err)[:140]}"
    report("crafted output.pkl -> PerformanceDashboard.from_run", code_ran=marker.exists(),
           outcome=outcome)  # fmt: skip


# 2 planted pickle in --checkpoint-dir
def planted_checkpoint() -> None:
    import cloudpickle
    import fsspec

    ckpt, marker = WORK / "ckpt-planted", WORK / "pwned-checkpoint"
    for ds, uid, a, b in chunk_ranges():
        p = ckpt / ds / uid / "Events" / f"{a}-{b}.coffea"
        p.parent.mkdir(parents=True, exist_ok=True)
        with fsspec.open(str(p), "wb", compression="lz4") as f:
            cloudpickle.dump({"out": Payload(marker)}, f)
    code, last, secs = cli(*run_args("tau_simplenet", WORK / "out-planted", "--checkpoint-dir",
                                     str(ckpt)))  # fmt: skip
    report("planted pickle in --checkpoint-dir", code_ran=marker.exists(), exit=code,
           stderr=last[:200], s=secs)  # fmt: skip
    if NEW:
        code, last, secs = cli(*run_args("tau_simplenet", WORK / "out-planted2",
                                         "--checkpoint-dir", str(ckpt), "--recompute-checkpoints"))  # fmt: skip
        report("planted pickle, then --recompute-checkpoints", code_ran=marker.exists(), exit=code)


# 3 tagger switch over a checkpoint directory
def tagger_switch() -> None:
    ckpt = WORK / "ckpt-switch"
    cli(*run_args("tau_simplenet", WORK / "out-a", "--checkpoint-dir", str(ckpt)))
    code, last, _secs = cli(
        *run_args("tau_resnet15", WORK / "out-b", "--checkpoint-dir", str(ckpt))
    )
    summary = WORK / "out-b" / "summary.json"
    s = json.loads(summary.read_text()) if summary.is_file() else {}
    report("tagger switch over --checkpoint-dir", exit=code, stderr=last[:220],
           complete=s.get("complete"), auc=s.get("taggers", {}).get("tau_resnet15", {}).get("auc"))  # fmt: skip


# 4 sockets of a local dask cluster and of facility/local.yaml
def listening() -> set[tuple[int, str, int]]:
    import psutil

    me = psutil.Process()
    found = set()
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    found.add((p.pid, c.laddr.ip, c.laddr.port))
    return found


def sockets() -> None:
    import yaml
    from distributed import Client

    from e2e_coffea.facility import connect, parse_cluster_config
    from e2e_coffea.runner.cluster import local_cluster

    before = listening()
    cluster = local_cluster(1, 1)
    client = Client(cluster)
    client.wait_for_workers(2)
    seen = listening() - before
    addr = cluster.scheduler_address
    stranger = "refused"
    try:
        c = Client(addr.replace("tls://", "tcp://"), timeout=3)
        c.run(os.getpid)
        stranger = "connected and ran code"
        c.close()
    except Exception:
        pass
    client.close()
    cluster.close()
    report("local dask cluster sockets (--executor dask)", listening=len(seen),
           not_loopback=len([s for s in seen if s[1] not in ("127.0.0.1", "::1")]),
           scheduler=addr.split(":")[0], plain_tcp_client=stranger)  # fmt: skip
    import e2e_coffea

    tree = Path(e2e_coffea.__file__).parents[1]
    cfg = yaml.safe_load((tree / "facility" / "local.yaml").read_text())
    cfg["models"]["worker_dir"] = str(WORK / "models")
    before = listening()
    with connect(parse_cluster_config(cfg)) as conn:
        conn.client.run(os.getpid)
        seen = listening() - before
        addr = conn.client.scheduler.address
    report("facility/local.yaml sockets (--cluster)", listening=len(seen),
           not_loopback=len([s for s in seen if s[1] not in ("127.0.0.1", "::1")]),
           scheduler=addr.split(":")[0])  # fmt: skip


# 5-7 bad --out
def bad_out() -> None:
    (WORK / "a-file").write_text("x")
    for name, out in (("--out is an existing file", WORK / "a-file"),
                      ("--out under a read-only parent", Path("/sys/kernel/e2e-out")),
                      ("--out under a file", WORK / "a-file" / "sub" / "out"),
                      ("--out under missing folders (allowed)", WORK / "no" / "parent" / "out")):  # fmt: skip
        code, last, secs = cli(*run_args("tau_simplenet", out))
        report(name, exit=code, stderr=last[:160], s=secs,
               created=(out.is_dir() and any(out.iterdir())) if out.exists() else False)  # fmt: skip


# 8 summary fails; 9 stale roc.png
def old_set(out: Path) -> dict[str, bytes]:
    out.mkdir(parents=True, exist_ok=True)
    for n in ("output.pkl", "summary.json", "roc.png"):
        (out / n).write_text(f"old {n}")
    return {p.name: p.read_bytes() for p in out.iterdir()}


def summary_fails() -> None:
    import e2e_coffea.hists.summary as hs
    from e2e_coffea.cli import main

    out = WORK / "out-summary-fails"
    before = old_set(out)
    real = hs.summarize
    hs.summarize = lambda result, specs: {**real(result, specs), "bad": object()}
    try:
        err_buf = io.StringIO()
        with contextlib.redirect_stderr(err_buf), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["run", *run_args("tau_simplenet", out)])
            except Exception as err:
                code = type(err).__name__
    finally:
        hs.summarize = real
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    report("summary.json cannot be written", exit=code, stderr=err_buf.getvalue()[-200:], files_changed=changed,
           left=sorted(after))  # fmt: skip


def stale_roc() -> None:
    out = WORK / "out-stale"
    old_set(out)
    code, _last, _secs = cli(*run_args("eg_simplenet", out))  # no e/gamma truth: no AUC, no ROC
    summary = json.loads((out / "summary.json").read_text())
    report("rerun into an old --out, this run has no ROC", exit=code,
           auc=summary["taggers"]["eg_simplenet"]["auc"], files=sorted(os.listdir(out)))  # fmt: skip


# 10 edited checkpoint; 11 SIGKILL mid-run
def reference():
    from e2e_coffea.runner import run

    return run(str(FILESET), ["tau_simplenet"], chunksize=15, device="cpu", progress=False)


def same(a, b) -> bool:
    import numpy as np

    return (
        all(
            np.array_equal(a["hists"][k].values(flow=True), b["hists"][k].values(flow=True))
            for k in a["hists"]
        )
        and a["cutflow"] == b["cutflow"]
    )


def edited_checkpoint(clean) -> None:
    from e2e_coffea.runner import run

    ckpt = WORK / "ckpt-edit"
    run(str(FILESET), ["tau_simplenet"], chunksize=15, device="cpu", progress=False,
        checkpoint_dir=ckpt)  # fmt: skip
    if NEW:
        from e2e_coffea.processor.serialize import dumps_output, loads_output

        path = sorted((ckpt / "chunks").glob("*.zip"))[0]
        payload = loads_output(path.read_bytes())
        payload["out"]["hists"]["score"].view(flow=True)["value"][...] *= 0
        path.write_bytes(dumps_output(payload))
    else:
        import cloudpickle
        import fsspec

        path = sorted(ckpt.rglob("*.coffea"))[0]
        with fsspec.open(str(path), "rb", compression="lz4") as f:
            payload = cloudpickle.load(f)
        payload["out"]["hists"]["score"].view(flow=True)["value"][...] *= 0
        with fsspec.open(str(path), "wb", compression="lz4") as f:
            cloudpickle.dump(payload, f)
    try:
        r = run(str(FILESET), ["tau_simplenet"], chunksize=15, device="cpu", progress=False,
                checkpoint_dir=ckpt)  # fmt: skip
        outcome = f"complete={r.complete}, equals clean run: {same(r.output, clean.output)}"
    except Exception as err:
        outcome = f"{type(err).__name__}: {str(err)[:160]}"
    report("checkpoint content edited", outcome=outcome)


KILLED = """
import sys, time
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run
orig = E2ETaggerProcessor.process
def slow(self, events):
    out = orig(self, events); time.sleep(1.0); return out
E2ETaggerProcessor.process = slow
run(sys.argv[1], ["tau_simplenet"], chunksize=15, device="cpu", progress=False,
    checkpoint_dir=sys.argv[2])
"""


def sigkill(clean) -> None:
    from e2e_coffea.runner import run

    ckpt = WORK / "ckpt-kill"
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(FILESET), str(ckpt)], cwd=WORK)

    def saved() -> int:
        if NEW:
            return len(list((ckpt / "manifest").glob("*.json")))
        return len(list(ckpt.rglob("*.coffea")))

    while saved() < 2 and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    n = saved()
    r = run(str(FILESET), ["tau_simplenet"], chunksize=15, device="cpu", progress=False,
            checkpoint_dir=ckpt)  # fmt: skip
    report("SIGKILL mid-run, then rerun", saved_before_kill=n, complete=r.complete,
           equals_clean=same(r.output, clean.output))  # fmt: skip


if __name__ == "__main__":
    which = sys.argv[2:] or ["all"]
    clean = None
    steps = {
        "pkl": crafted_output, "planted": planted_checkpoint, "switch": tagger_switch,
        "sockets": sockets, "out": bad_out, "summary": summary_fails, "stale": stale_roc,
    }  # fmt: skip
    for name, fn in steps.items():
        if "all" in which or name in which:
            try:
                fn()
            except Exception as err:
                report(name, crashed=f"{type(err).__name__}: {err}"[:300])
    if "all" in which or "ckpt" in which:
        clean = reference()
        for fn in (edited_checkpoint, sigkill):
            try:
                fn(clean)
            except Exception as err:
                report(fn.__name__, crashed=f"{type(err).__name__}: {err}"[:300])
