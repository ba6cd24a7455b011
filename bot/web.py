"""`helpdesk-bot web`: the production web setup (gunicorn, sync workers) around `bot.app.create_app`.

Sync workers, not threads: intake is a few hundred microseconds of CPU plus one Redis round trip, so
processes use both cores without GIL contention (threaded workers measured slower on this path).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import get_settings
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


def default_workers() -> int:
    return int(os.environ.get("HELPDESK_BOT_WEB_WORKERS", 2 * (os.cpu_count() or 1)))


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
