"""Where training runs: a local Ray on this machine, or a Ray cluster joined by its address.

    info = connect()                          # RAGNAROK_RAY_ADDRESS, else a local Ray
    info = connect("10.0.0.5:6379")           # the GCS of a running head (`ray start --head`)
    info = connect("ray://10.0.0.5:10001")    # the head's Ray client server
    require_resources(cpus=3, gpus=1)         # RayClusterError now, not a placement group forever

**Local.** With no address (neither the argument nor RAGNAROK_RAY_ADDRESS; "local" says the same)
`connect` starts Ray in this process with this machine's cores (or `num_cpus`), no dashboard, the
workers' output kept in their log files (/tmp/ray/session_latest/logs) instead of the driver's
stderr, and its node on 127.0.0.1: every process of a local training cluster listens on loopback
only, so nothing else can reach or join it. A Ray already initialized in this process is reused.
Measured on the 2-core development machine: `ray.init` 2.3, 2.3 and 3.3 s (ClusterInfo.startup_s;
up to 6 s while other jobs loaded the machine), the first actor ready 0.25-0.35 s later (Ray
starts idle workers with the cluster), `ray.shutdown` 1.1 s; the driver holds about 100 MiB once
connected. Ray's dashboard process starts even without the dashboard (for its usage-statistics
module) and, usage statistics disabled or not, probes the cloud's metadata addresses once
(169.254.169.254, metadata.google.internal); tests/test_ray_runners.py points that probe at a
closed loopback proxy.

**Token authentication.** Ray 2.60 turns token authentication on for every cluster `ray.init`
starts: the token is ~/.ray/auth_token, created when missing (a fresh machine, root or not, needs
only a writable home: the tests start their Ray with an empty HOME), and every process of the
cluster reads it. `connect` turns token mode on itself (what Ray would do, without logging a
warning); RAY_AUTH_MODE=disabled set by the operator stands. `ray start --head` uses a token
when its machine has one (~/.ray/auth_token, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH) or
RAY_AUTH_MODE=token. To JOIN such a cluster the training machine needs the same token: set
RAY_AUTH_TOKEN (the token) or RAY_AUTH_TOKEN_PATH (a file holding it), either of which turns token
mode on here, or copy the head's ~/.ray/auth_token to this machine's and set RAY_AUTH_MODE=token.
Without it Ray retries for about 20 s, then `connect` raises RayClusterError saying that no token
is configured. Every node must run this product's installation (the same commit): the env runners
unpickle `models.*` objects there.

**Unreachable clusters.** `ray.init` retries an address that does not answer for a long time;
`connect` first opens a TCP connection to the address's host:port (PROBE_TIMEOUT_S) and raises
RayClusterError at once, naming the address and the reason. The training job maps that error to
a failed job with the reason in its row. An address that answers TCP but is no Ray head (or
refuses this driver) fails after Ray's own retries.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ray

from config.training_jobs import TrainingConfigError

log = logging.getLogger("models.rllib.cluster")

#: The environment variable naming the cluster to join when `connect` gets no address.
ADDRESS_ENV = "RAGNAROK_RAY_ADDRESS"
#: Seconds a TCP connection to a cluster's address may take before the cluster counts as
#: unreachable.
PROBE_TIMEOUT_S = 3.0
CLIENT_PREFIX = "ray://"
_AUTH_MODE = "RAY_AUTH_MODE"
_AUTH_TOKEN_SOURCES = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
# Ray (2.60) replaces a node address of 127.0.0.1 by the machine's routable one unless its
# "cluster mode" is off; the variable is read when each Ray process imports ray.
_CLUSTER_MODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK = "127.0.0.1"
#: The address this module last joined (a Ray client connection has no GCS address to ask).
_joined: str | None = None


class RayClusterError(TrainingConfigError):
    """The Ray cluster cannot be used: unreachable, refused the connection, or lacks what a run
    asks for. The message says which cluster and why. A training job that meets it fails at once
    with the message in its row (a TrainingConfigError: retrying would meet it again)."""


@dataclass(frozen=True)
class ClusterInfo:
    """The Ray cluster this process is connected to."""

    address: str
    """The cluster's GCS address (host:port), or the ray:// address of a Ray client connection."""
    local: bool
    """Ray was started by this process on this machine (not a cluster joined by address)."""
    nodes: int
    """Alive nodes."""
    cpus: float
    """CPUs of all nodes (Ray's resource count)."""
    gpus: float
    """GPUs of all nodes."""
    startup_s: float
    """Seconds `ray.init` took here; 0.0 when a Ray already initialized in this process was
    reused."""
    reused: bool
    """A Ray already initialized in this process was reused."""
    driver_memory_mb: float
    """Resident memory of this process (the driver) after connecting, MiB."""

    def line(self) -> str:
        where = "local Ray" if self.local else "Ray cluster"
        how = "reused" if self.reused else f"started in {self.startup_s:.1f}s"
        return (
            f"{where} at {self.address}: {self.nodes} node(s), {self.cpus:g} CPUs, "
            f"{self.gpus:g} GPUs ({how}; driver {self.driver_memory_mb:.0f} MiB)"
        )


def resolve_address(address: str | None = None) -> str:
    """The address to join: the argument, else RAGNAROK_RAY_ADDRESS, else "" (a local Ray)."""
    if address is None:
        address = os.environ.get(ADDRESS_ENV, "")
    address = address.strip()
    return "" if address == "local" else address


def connect(address: str | None = None, *, num_cpus: int | None = None) -> ClusterInfo:
    """Join the Ray cluster at `address` (see the module's docstring), or start a local Ray.

    `num_cpus` sizes a local Ray (default: the cores this process may run on). A remote address
    is probed with a TCP connection first: RayClusterError at once when it cannot be reached,
    as when Ray refuses the connection (authentication) or is already connected elsewhere."""
    target = resolve_address(address)
    if target and num_cpus is not None:
        raise ValueError("num_cpus sizes a local Ray: a cluster joined by address has its own")
    bootstrap = _reachable(target) if target else ""
    if ray.is_initialized():
        current = _current_address()
        if target and target != "auto" and bootstrap != current.removeprefix(CLIENT_PREFIX):
            raise RayClusterError(
                f"cannot join the Ray cluster at {target}: this process is already connected "
                f"to {current}"
            )
        return _info(current, startup_s=0.0, reused=True)
    started = time.perf_counter()
    if target:
        _join(target)
    else:
        _start_local(num_cpus)
    return _info(_current_address(), time.perf_counter() - started, reused=False)


def require_resources(cpus: float, gpus: float) -> None:
    """RayClusterError, naming what was asked and what the cluster has, when the connected
    cluster lacks `cpus` CPUs or `gpus` GPUs in all (a GPU learner on a CPU-only cluster, more env
    runners than cores): RLlib and Ray would wait for them forever."""
    if not ray.is_initialized():
        raise RayClusterError("not connected to Ray: call models.rllib.cluster.connect() first")
    total = ray.cluster_resources()
    have_cpus, have_gpus = float(total.get("CPU", 0.0)), float(total.get("GPU", 0.0))
    short = [
        f"{asked:g} {name} (it has {have:g})"
        for name, asked, have in (("CPUs", cpus, have_cpus), ("GPUs", gpus, have_gpus))
        if asked > have
    ]
    if short:
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        raise RayClusterError(
            f"this run asks for {cpus:g} CPUs and {gpus:g} GPUs; the Ray cluster at "
            f"{_current_address()} has {have_cpus:g} CPUs and {have_gpus:g} GPUs on {nodes} "
            f"node(s): short of {' and '.join(short)}"
        )


# --- joining --------------------------------------------------------------------------------
def split_host_port(address: str) -> tuple[str, int]:
    """("host", port) of "host:port", "[v6]:port" or "ray://host:port"; RayClusterError for
    anything else."""
    rest = address.removeprefix(CLIENT_PREFIX)
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayClusterError(
            f"Ray address {address!r} is not host:port, ray://host:port, 'auto' or empty"
        )
    return host, int(port)


def _reachable(target: str) -> str:
    """The cluster's host:port once a TCP connection to it succeeded (PROBE_TIMEOUT_S)."""
    if target == "auto":
        from ray._private.services import canonicalize_bootstrap_address_or_die

        try:
            bootstrap: str = canonicalize_bootstrap_address_or_die("auto")
        except (ConnectionError, ValueError) as exc:
            raise RayClusterError(f"no Ray cluster found for address 'auto': {exc}") from None
    else:
        bootstrap = target.removeprefix(CLIENT_PREFIX)
    host, port = split_host_port(bootstrap)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayClusterError(
            f"the Ray cluster at {target} cannot be reached: TCP {host}:{port}: {reason} "
            f"(within {PROBE_TIMEOUT_S:g}s)"
        ) from None
    return bootstrap


def _join(target: str) -> None:
    global _joined
    if os.environ.get(_AUTH_MODE) is None and any(os.environ.get(v) for v in _AUTH_TOKEN_SOURCES):
        _enable_token_auth()
    try:
        ray.init(address=target, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # Ray raises many kinds (ConnectionError, AuthenticationError, ...)
        if os.environ.get(_AUTH_MODE, "").lower() == "token":
            hint = " (if it uses token authentication: is this machine's token the head's?)"
        else:
            hint = (
                " (no Ray token is configured here: a cluster with token authentication needs "
                "its token in RAY_AUTH_TOKEN, in the file RAY_AUTH_TOKEN_PATH names, or in "
                "~/.ray/auth_token with RAY_AUTH_MODE=token)"
            )
        raise RayClusterError(f"could not join the Ray cluster at {target}: {exc}{hint}") from exc
    _joined = target


def _start_local(num_cpus: int | None) -> None:
    # What Ray 2.60 does for a new local cluster anyway (token mode, ~/.ray/auth_token created
    # when missing), done here so Ray does not log a warning about it; an explicit mode stands.
    if os.environ.get(_AUTH_MODE) is None:
        _enable_token_auth()
    cpus = num_cpus or len(os.sched_getaffinity(0))
    try:
        with _loopback_node(), _no_outside_connections():
            ray.init(
                address="local",
                num_cpus=cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                _node_ip_address=LOOPBACK,
            )
    except Exception as exc:  # a token that cannot be written, ports, a failed process start
        raise RayClusterError(f"could not start a local Ray: {exc}") from exc


def _enable_token_auth() -> None:
    """RAY_AUTH_MODE=token for this process and the Ray processes it starts, and Ray's
    configuration reloaded to see it (as ray.init does, without its warning)."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            _enable_token_auth as enable,
        )
    except ImportError:  # another Ray: ray.init decides (and may log that it did)
        return
    enable()


#: A closed loopback port (discard): a request sent through it fails at once, on this machine.
_CLOSED_PROXY = "http://127.0.0.1:9"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_NO_PROXY_VARS = ("NO_PROXY", "no_proxy")


@contextmanager
def _no_outside_connections() -> Iterator[None]:
    """While a local Ray starts: the HTTP proxy of the processes started now (and the workers
    they start later) is a closed loopback port. Ray's dashboard process probes the cloud's
    metadata addresses at start-up (its usage-statistics module, even with usage statistics off);
    a local training cluster has no business outside this machine, so that probe fails at once
    on loopback instead of leaving it. Loopback itself is exempt (NO_PROXY)."""
    saved = {var: os.environ.get(var) for var in (*_PROXY_VARS, *_NO_PROXY_VARS)}
    os.environ.update(dict.fromkeys(_PROXY_VARS, _CLOSED_PROXY))
    os.environ.update(dict.fromkeys(_NO_PROXY_VARS, "127.0.0.1,localhost"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextmanager
def _loopback_node() -> Iterator[None]:
    """While a local Ray starts: its node address stays 127.0.0.1 (Ray would replace it by the
    machine's routable address), in this process and in the Ray processes started now."""
    from ray._private import ray_constants

    saved_mode = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    saved_env = os.environ.get(_CLUSTER_MODE_ENV)
    os.environ[_CLUSTER_MODE_ENV] = "0"
    if saved_mode is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved_mode is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved_mode
        if saved_env is None:
            os.environ.pop(_CLUSTER_MODE_ENV, None)
        else:
            os.environ[_CLUSTER_MODE_ENV] = saved_env


# --- what we are connected to ---------------------------------------------------------------
def _client_mode() -> bool:
    return bool(ray.util.client.ray.is_connected())


def _current_address() -> str:
    if _client_mode():
        return _joined or CLIENT_PREFIX + "?"
    return str(ray.get_runtime_context().gcs_address)


def _local() -> bool:
    if _client_mode():
        return False
    from ray._private import worker

    node = getattr(worker, "_global_node", None)
    return bool(getattr(node, "head", False))


def _info(address: str, startup_s: float, reused: bool) -> ClusterInfo:
    total = ray.cluster_resources()
    info = ClusterInfo(
        address=address,
        local=_local(),
        nodes=sum(1 for node in ray.nodes() if node.get("Alive")),
        cpus=float(total.get("CPU", 0.0)),
        gpus=float(total.get("GPU", 0.0)),
        startup_s=startup_s,
        reused=reused,
        driver_memory_mb=_resident_mb(),
    )
    if not reused:
        log.info("%s", info.line())
    return info


def _resident_mb() -> float:
    """This process's resident memory (Linux /proc), else its peak."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
