"""`helpdesk-bot web`: the production web setup (gunicorn, sync workers) around `bot.app.create_app`.

Sync workers, not threads: intake is a few hundred microseconds of CPU plus one Redis round trip, so
processes use both cores without GIL contention (threaded workers measured slower on this path).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings, get_settings
from bot.logs import gunicorn_logconfig


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from bot.app import create_app

        return create_app()


CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def default_workers(
    settings: Settings | None = None, root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> int:
    """gunicorn workers: HELPDESK_BOT_WEB_WORKERS when set, else 2 per CPU this process may use.

    Two per CPU because each request also waits on one Redis round trip (docs/benchmarks.md).
    """
    configured = (settings or get_settings()).helpdesk_bot_web_workers
    return configured or 2 * available_cpus(root, proc_cgroup)


def available_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> int:
    """CPUs this process may use: its CPU affinity, capped by its cgroup's CPU quota rounded up (at least 1).

    `os.cpu_count()` is the host's count: in a container limited to 1 CPU on a 32-core node, gunicorn would
    start 64 workers sharing one CPU's time (and the memory of 64 processes).
    """
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (1.5: 150 ms per 100 ms), or None when unlimited.

    cgroup v2 states it in `cpu.max` ("150000 100000", or "max 100000"); cgroup v1 in `cpu.cfs_quota_us`
    and `cpu.cfs_period_us` (-1: unlimited). A parent's quota binds its children (a Kubernetes pod's limit
    sits above its containers), so the smallest from the process's cgroup up to the root applies. Inside a
    container the process's cgroup is usually the root of the mounted tree, which the walk covers too.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if line.startswith("0::"):
            quotas += [q for d in _self_and_parents(root, path) if (q := _v2_quota(d)) is not None]
        elif "cpu" in controllers.split(","):
            for mount in {root / controllers, root / "cpu", root / "cpu,cpuacct"}:
                quotas += [q for d in _self_and_parents(mount, path) if (q := _v1_quota(d)) is not None]
    return min(quotas) if quotas else None


def _self_and_parents(base: Path, path: str) -> list[Path]:
    parts = [p for p in path.split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_quota(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def serve(port: int, host: str = "0.0.0.0", workers: int | None = None, home: Path | None = None) -> None:  # noqa: S104
    """Run gunicorn in the foreground; metrics from all workers are merged (prometheus multiprocess)."""
    metrics_dir = (home or Path(".helpdesk-bot")).resolve() / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_workers(),
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 10,
            "keepalive": 5,
            "accesslog": None,
            "loglevel": "warning",
            "logconfig_dict": gunicorn_logconfig(get_settings().helpdesk_bot_log_level),
            "preload_app": False,
            "child_exit": _child_exit,
        }
    ).run()


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
