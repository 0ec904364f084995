"""A dask-gateway server whose clusters are SLURM jobs (its ``SlurmBackend``): the server
side of facility/dask-gateway-eaf.yaml on your own machine, with tools/slurm-up.sh's
single-node SLURM, or on a login node. CI runs the main job through it
(tests/facility/test_gateway_slurm.py).

    sudo tools/slurm-up.sh                  # SLURM on 127.0.0.1
    sudo tools/gateway-user.sh up "$PWD/.venv/bin/python"   # sudo, the job user e2egw
    sudo SLURM_CONF=/tmp/e2e-slurm/slurm.conf E2E_GATEWAY_PYTHON="$PWD/.venv/bin/python" \\
        .venv/bin/dask-gateway-server -f facility/dask-gateway-slurm-server.py

Then, in facility/dask-gateway-eaf.yaml: ``address: http://127.0.0.1:8000``,
``proxy_address`` and ``options.image`` removed, ``auth: basic``, and connect as the job
user (``DASK_GATEWAY__AUTH__KWARGS__USERNAME=e2egw``).

The server runs as root and submits every job as the user the client authenticates as
(``sudo -nHu USER``), so that user's jobs run the scheduler and the workers: it needs a
Python it can execute (E2E_GATEWAY_PYTHON, with e2e-coffea and dask-gateway installed).
``SimpleAuthenticator`` lets anyone who reaches the port in as anyone: keep the addresses
on 127.0.0.1, or use a real authenticator (Kerberos, JupyterHub) at a facility.

Environment: E2E_GATEWAY_PYTHON (default: the server's own), E2E_GATEWAY_ADDRESS (the
clients' address, default 127.0.0.1:8000), E2E_GATEWAY_API_ADDRESS (the server's private
API, default 127.0.0.1:8001), E2E_GATEWAY_STAGING (each user's job files and logs, default
~USER/.dask-gateway), E2E_GATEWAY_PARTITION (default: SLURM's default partition),
E2E_GATEWAY_JOB_ENV (``NAME=VALUE,...`` for the jobs, e.g. PYTHONPATH), and SLURM_CONF.
"""

import os
import sys
from pathlib import Path

from dask_gateway_server.backends.jobqueue import slurm
from dask_gateway_server.options import Float, Integer, Options

c = get_config()  # noqa: F821 (traitlets defines it in config files)

python = os.environ.get("E2E_GATEWAY_PYTHON", sys.executable)
slurm_conf = os.environ.get("SLURM_CONF", "")
job_env = dict(
    item.split("=", 1) for item in os.environ.get("E2E_GATEWAY_JOB_ENV", "").split(",") if item
)
if slurm_conf:  # sbatch reads it from the job's environment (the launcher passes that)
    job_env["SLURM_CONF"] = slurm_conf


class SlurmBackend(slurm.SlurmBackend):
    """The stock backend, except that squeue and scancel (which it runs with an empty
    environment) find a slurm.conf outside /etc/slurm too."""

    def get_status_cmd_env(self, job_ids):
        cmd, env = super().get_status_cmd_env(job_ids)
        return cmd, {**env, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}

    def get_stop_cmd_env(self, job_id):
        cmd, env = super().get_stop_cmd_env(job_id)
        return cmd, {**env, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}


c.DaskGateway.address = os.environ.get("E2E_GATEWAY_API_ADDRESS", "127.0.0.1:8001")
c.Proxy.address = os.environ.get("E2E_GATEWAY_ADDRESS", "127.0.0.1:8000")
c.DaskGateway.backend_class = SlurmBackend
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
# run through sudo as the job user, who must be able to execute it
c.SlurmBackend.dask_gateway_jobqueue_launcher = str(
    Path(python).parent / "dask-gateway-jobqueue-launcher"
)
if "E2E_GATEWAY_STAGING" in os.environ:
    c.SlurmClusterConfig.staging_directory = os.environ["E2E_GATEWAY_STAGING"] + "/{username}/"
c.SlurmClusterConfig.partition = os.environ.get("E2E_GATEWAY_PARTITION", "")
c.SlurmClusterConfig.scheduler_memory = "1 G"
c.SlurmClusterConfig.environment = job_env
# distributed 2026.8 has no dask-scheduler/dask-worker commands any more (exit 127)
c.SlurmClusterConfig.scheduler_cmd = [python, "-m", "dask", "scheduler"]
c.SlurmClusterConfig.worker_cmd = [python, "-m", "dask", "worker"]
# the option names facility/dask-gateway-eaf.yaml sets for its workers
c.SlurmBackend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=4),
    Float("worker_memory", default=2, min=0.5, max=16),
    handler=lambda o: {
        "worker_cores": o.worker_cores,
        "worker_memory": int(o.worker_memory * 2**30),
    },
)
