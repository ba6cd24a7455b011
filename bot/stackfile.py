"""What `helpdesk-bot up` started, written in HELPDESK_BOT_HOME so commands from another terminal use it.

`up` runs an embedded Redis and, without desk URLs, the built-in sandbox with credentials and webhook
secrets made up on the spot. A second terminal (`events`, `triage --dry-run`, `replay`...) with the same
home finds them here. The file is only honoured while the `up` process that wrote it is alive, and only
for settings the environment leaves unset: an explicit `ZENDESK_URL` always wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

FILE = "stack.json"


def write(home: Path, env: Mapping[str, str]) -> Path:
    """Record `env` (the settings `up` gave its children) for this process; readable by the owner only."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "env": dict(env)}, out)
    tmp.replace(path)
    return path


def remove(home: Path) -> None:
    path = home / FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if data.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def read(home: Path) -> dict[str, str]:
    """The settings of the running `up` with this home; empty when there is none (or it has stopped)."""
    try:
        data = json.loads((home / FILE).read_text())
        pid = int(data["pid"])
        env = data["env"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(env, dict) or not _alive(pid):
        return {}
    return {str(k): str(v) for k, v in env.items()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
