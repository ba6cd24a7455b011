"""`helpdesk-bot sandbox --jira-mode ...` as a user starts it: the chosen Jira deployment is what answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for

ROOT = Path(__file__).parent.parent
AUTH = ("alice@example.com", "x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("mode", "deployment", "v3_status"), [("cloud", "Cloud", 200), ("datacenter", "Server", 404)])
def test_sandbox_serves_the_chosen_jira_deployment(mode: str, deployment: str, v3_status: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--jira-mode", mode],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: _up(url), timeout=30)
        assert requests.get(f"{url}/rest/api/2/serverInfo", auth=AUTH, timeout=5).json()["deploymentType"] == deployment
        assert requests.get(f"{url}/rest/api/3/myself", auth=AUTH, timeout=5).status_code == v3_status
        assert requests.get(f"{url}/api/v2/users/me.json", auth=AUTH, timeout=5).status_code == 200  # Zendesk too
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert ("Data Center" if mode == "datacenter" else "Cloud") in out


def test_an_unknown_jira_mode_is_refused_before_serving() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(free_port()), "--jira-mode", "server"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--jira-mode" in result.stderr and "Traceback" not in result.stderr


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/_sandbox/health", timeout=1).ok
    except requests.ConnectionError:
        return False
