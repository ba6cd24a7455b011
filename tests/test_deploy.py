"""deploy/ is checked by parsing it: every command it runs exists, and the topology is safe."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.cli import build_parser

DEPLOY = Path(__file__).parent.parent / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_every_service_runs_a_real_cli_command() -> None:
    parser = build_parser()
    services = compose()["services"]
    for name, service in services.items():
        command = service.get("command")
        if name == "redis":
            continue
        assert command[0] == "helpdesk-bot", name
        parser.parse_args(command[1:])  # exits (fails the test) on an unknown command or option


def test_topology_is_safe() -> None:
    services = compose()["services"]
    assert set(services) == {"web", "worker", "beat", "flower", "redis"}
    assert services["beat"]["deploy"]["replicas"] == 1
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--maxmemory-policy") + 1] == "noeviction"
    for name in ("web", "worker", "beat", "flower"):
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:"), name
        assert "depends_on" in services[name], name


def test_dockerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (DEPLOY.parent / src).exists(), src
    assert "helpdesk-bot" in text.splitlines()[-1]
