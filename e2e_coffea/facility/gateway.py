"""dask-gateway facilities: the server starts scheduler and workers; we only ask for them.

The option names (image, cores, memory, GPU) differ per facility; they are checked
against the server's own list (``Gateway.cluster_options()``) before a cluster is made.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import BatchJobError, ClusterConfigError, SchedulerUnreachableError
from .config import ClusterConfig

__all__ = ["build_gateway_cluster", "close_gateway", "close_gateway_cluster", "gateway_options"]


def _gateway(config: ClusterConfig) -> Any:
    try:
        from dask_gateway import Gateway
    except ImportError as err:
        msg = "facility 'gateway' needs dask-gateway: pip install 'e2e-coffea[facility]'"
        raise ImportError(msg) from err
    g = config.gateway
    if g is None:  # pragma: no cover - the config loader guarantees it
        msg = "facility 'gateway' needs a 'gateway' section"
        raise ClusterConfigError(msg)
    return Gateway(
        address=g.address,
        proxy_address=g.proxy_address,
        public_address=g.public_address,
        auth=g.auth,
    )


def gateway_options(config: ClusterConfig, gateway: Any) -> Any:
    """The server's cluster options with ours set; unknown names fail before any cluster."""
    g = config.gateway
    address = getattr(gateway, "address", None) or (g.address if g else None)
    try:
        opts = gateway.cluster_options()
    except Exception as err:
        msg = f"no dask-gateway answered at {address}: {type(err).__name__}: {err}"
        raise SchedulerUnreachableError(msg) from err
    wanted = {**(g.options if g else {}), **config.pools[0].options}
    valid = sorted(opts)
    for key, value in wanted.items():
        if key not in valid:
            msg = (
                f"{config._where()}gateway option {key!r} is not offered by the gateway at "
                f"{address}; it offers {valid}"
            )
            raise ClusterConfigError(msg)
        opts[key] = value
    return opts


def close_gateway(gateway: Any) -> None:
    """Close a dask-gateway client for good. ``Gateway.close`` stops its event loop, and
    its ``__del__`` closes again and raises on the stopped loop (dask-gateway 2026.3),
    printing a traceback at every clean shutdown: without the loop runner it does not."""
    gateway.close()
    if hasattr(gateway, "_loop_runner"):
        del gateway._loop_runner


def close_gateway_cluster(cluster: Any) -> None:
    """Close a GatewayCluster (stops its scheduler and workers) and its gateway client."""
    cluster.close()
    inner = getattr(cluster, "gateway", None)
    if inner is not None and hasattr(inner, "_loop_runner"):
        del inner._loop_runner


def build_gateway_cluster(config: ClusterConfig) -> list[Any]:
    """One GatewayCluster (the gateway owns the scheduler), scaled to the pool's jobs."""
    from dask_gateway import GatewayClusterError

    gateway = _gateway(config)
    try:
        opts = gateway_options(config, gateway)
        try:
            cluster = gateway.new_cluster(opts, shutdown_on_close=True)
        except GatewayClusterError as err:
            # the server knows why (a scheduler job that failed or never ran); the client
            # is told only "failed to start, see logs"
            said = " ".join(str(err).split())
            msg = (
                f"{config._where()}the dask-gateway at {getattr(gateway, 'address', '?')} "
                f"could not start a cluster ({said}): its server's log says why; with a "
                f"batch backend, read the scheduler job's output in the user's staging "
                f"directory, and check that the job's Python can run 'dask scheduler'"
            )
            raise BatchJobError(msg) from None
    finally:
        close_gateway(gateway)  # the cluster has its own connection to the gateway
    try:
        cluster.scale(config.pools[0].jobs)
    except BaseException:
        close_gateway_cluster(cluster)
        raise
    return [cluster]
