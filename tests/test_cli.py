"""The console script as an operator uses it: check-config, and `up` with nothing configured."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_REDIS_URL, wait_for

ROOT = Path(__file__).parent.parent
DESK_VARS = [f"{d}_{v}" for d in ("ZENDESK", "JIRA") for v in ("URL", "EMAIL", "API_TOKEN", "WEBHOOK_SECRET")]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DESK_VARS and not k.startswith(("HELPDESK_BOT", "REDIS"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_check_config_passes_with_the_packaged_default(tmp_path: Path) -> None:
    result = run_cli("check-config", env=clean_env(HELPDESK_BOT_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout


def test_check_config_reports_a_missing_secret_and_exits_1(tmp_path: Path) -> None:
    env = clean_env(ZENDESK_URL="https://acme.zendesk.com", ZENDESK_EMAIL="bot@example.com", ZENDESK_API_TOKEN="t")
    result = run_cli("check-config", env=env)
    assert result.returncode == 1
    assert "env ZENDESK_WEBHOOK_SECRET: required" in result.stdout


def test_check_config_points_at_the_bad_key_of_the_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "triage:\n  rules:\n    - name: broken\n      match: {regex: '(unclosed'}\n      request_type: feedback\n"
    )
    result = run_cli("check-config", env=clean_env(HELPDESK_BOT_POLICY=str(policy)))
    assert result.returncode == 1
    assert "triage.rules[0].match.regex" in result.stdout
    assert str(policy) in result.stdout or "policy.yaml" in result.stdout


def test_check_config_reports_a_missing_policy_file(tmp_path: Path) -> None:
    result = run_cli("check-config", env=clean_env(HELPDESK_BOT_POLICY=str(tmp_path / "nope.yaml")))
    assert result.returncode == 1
    assert "env HELPDESK_BOT_POLICY: no such file" in result.stdout


def free_port_pair() -> int:
    """A port P with P+1 also free (up serves the sandbox on the next port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 1))
            return int(port)
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def test_up_with_nothing_configured_serves_and_triages_a_sandbox_ticket(tmp_path: Path) -> None:
    """`make run` on a fresh machine: embedded Redis, sandbox desks, web, worker, beat — then a real ticket."""
    port = free_port_pair()
    env = clean_env(HELPDESK_BOT_HOME=str(tmp_path / "home"))
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        try:
            wait_for(healthy, timeout=30)
        except AssertionError:
            pytest.fail("up did not serve /healthz within 30 s:\n" + log_path.read_text())
        out = log_path.read_text()
        assert "embedded Redis" in out and "built-in sandbox" in out

        created = requests.post(
            f"http://127.0.0.1:{port + 1}/api/v2/requests.json",
            auth=("gary@globex.test/token", "x"),
            json={"request": {"subject": "Feature idea: dark mode", "comment": {"body": "It would be great."}}},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        ticket_id = str(created.json()["request"]["id"])

        def processed() -> str | None:
            result = run_cli("events", "--desk", "zendesk", "--ticket", ticket_id, env=env)
            return result.stdout if " done " in result.stdout else None

        try:
            listing = wait_for(processed, timeout=45, interval=0.5)
        except AssertionError:
            pytest.fail("the sandbox ticket was not processed:\n" + log_path.read_text())
        assert "ticket_created" in listing
        # Aha! was unset too: the feature idea is an idea in the sandbox's Aha! product, not recorded nowhere.
        assert "AHA_URL" in out and "SALESFORCE_URL" in out and "fakes answer instead" in out
        ideas = requests.get(
            f"http://127.0.0.1:{port + 1}/api/v1/products/APP/ideas",
            params={"tag": f"helpdesk-bot-zendesk-{ticket_id}"},
            headers={"Authorization": "Bearer any"},
            timeout=10,
        ).json()["ideas"]
        assert [i["name"] for i in ideas] == ["Feature idea: dark mode"]
        second_terminal_commands_use_the_running_stack(env, ticket_id)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "stopped" in log_path.read_text()

    # `up` has stopped: the same command now explains itself in one line instead of a traceback.
    after = run_cli("triage", ticket_id, "--dry-run", env=env)
    assert after.returncode == 2, after.stdout + after.stderr
    assert after.stderr.strip().count("\n") == 0 and "Traceback" not in after.stderr, after.stderr


def second_terminal_commands_use_the_running_stack(env: dict[str, str], ticket_id: str) -> None:
    """Commands run beside `up` (same HELPDESK_BOT_HOME, nothing else set) find its Redis and sandbox."""
    triage = run_cli("triage", ticket_id, "--dry-run", env=env)
    assert triage.returncode == 0, triage.stderr
    assert f"zendesk ticket {ticket_id} (dry run: nothing written)" in triage.stdout
    assert "already triaged" in triage.stdout

    listed = [
        json.loads(line)
        for line in run_cli("events", "--json", "--ticket", ticket_id, "--desk", "zendesk", env=env).stdout.splitlines()
    ]
    event_id = next(e["id"] for e in listed if e["kind"] == "ticket_created")
    replay = run_cli("replay", event_id, "--dry-run", env=env)
    assert replay.returncode == 0, replay.stderr
    assert "\n  = " in replay.stdout, replay.stdout

    unknown = run_cli("replay", "zd-doesnotexist", env=env)
    assert unknown.returncode == 2 and unknown.stderr.strip().count("\n") == 0

    # Output piped into a reader that stops early (`events --json | head`) ends quietly.
    piped = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "events", "--json", "--limit", "500"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert piped.stdout is not None and piped.stderr is not None
    piped.stdout.close()
    piped.wait(timeout=60)
    with piped.stderr:
        assert "Traceback" not in piped.stderr.read().decode()
    assert piped.returncode == 0


def test_flower_serves_the_worker_dashboard(tmp_path: Path) -> None:
    port = free_port_pair()
    env = clean_env(HELPDESK_BOT_HOME=str(tmp_path), REDIS_URL=TEST_REDIS_URL, HELPDESK_BOT_KEY_PREFIX="hbtest:flower:")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "flower", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).text == "OK"
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=30)
        check = run_cli("health", "flower", "--port", str(port), env=env)
        assert check.returncode == 0 and check.stdout.endswith(": 200\n"), check.stdout + check.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    check = run_cli("health", "flower", "--port", str(port), env=env)
    assert check.returncode == 1


def test_flower_beyond_loopback_requires_a_login(tmp_path: Path) -> None:
    """Flower shows task arguments and can revoke tasks: on 0.0.0.0 only behind FLOWER_BASIC_AUTH."""
    env = clean_env(HELPDESK_BOT_HOME=str(tmp_path), REDIS_URL=TEST_REDIS_URL)
    env.pop("FLOWER_BASIC_AUTH", None)
    result = run_cli("flower", "--address", "0.0.0.0", "--port", "9", env=env)  # noqa: S104 - refused before it binds
    assert result.returncode == 2
    assert result.stderr == "helpdesk-bot: flower: set FLOWER_BASIC_AUTH (user:password) to listen on 0.0.0.0\n"


def test_services_refuse_to_start_on_a_bad_configuration(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("triage:\n  rules:\n    - {name: x, match: {regex: '(oops'}, request_type: feedback}\n")
    result = run_cli("worker", env=clean_env(HELPDESK_BOT_HOME=str(tmp_path), HELPDESK_BOT_POLICY=str(policy)))
    assert result.returncode == 1
    assert "triage.rules[0].match.regex" in result.stderr and "not started" in result.stderr
