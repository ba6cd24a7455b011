"""`helpdesk-bot up`: everything on one machine, in one command, stopped cleanly by Ctrl-C.

Starts (as child processes) an embedded Redis when REDIS_URL is unset, the sandbox desks when no desk
URL is set, then web, worker and beat. Each child inherits the same environment, so they all find
the same Redis and desks; the first one to die stops the rest, so a broken setup never half-runs.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import requests

from bot import embedded_redis, stackfile
from bot.config import DESKS, Settings


def _say(msg: str) -> None:
    print(f"helpdesk-bot: {msg}", flush=True)


def _bot_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def sandbox_env(home: Path, sandbox_url: str) -> dict[str, str]:
    """Credentials for the built-in sandbox; the webhook secrets are made once and kept in the home."""
    secret_file = home / "sandbox-secrets"
    if not secret_file.exists():
        home.mkdir(parents=True, exist_ok=True)
        secret_file.write_text("\n".join(secrets.token_urlsafe(24) for _ in DESKS))
        secret_file.chmod(0o600)
    desk_secrets = secret_file.read_text().split()
    env: dict[str, str] = {}
    for desk, secret in zip(DESKS, desk_secrets, strict=True):
        upper = desk.upper()
        env.update(
            {
                f"{upper}_URL": sandbox_url,
                f"{upper}_EMAIL": "bot@example.com",
                f"{upper}_API_TOKEN": "sandbox-token",
                f"{upper}_WEBHOOK_SECRET": secret,
            }
        )
    return env


def sandbox_services_env(settings: Settings, sandbox_url: str) -> dict[str, str]:
    """Salesforce, Aha! and the chat webhooks at the sandbox too, each only when the environment does not
    point it elsewhere: the demo desks' configuration changes and feedback then run end to end."""
    env: dict[str, str] = {}
    if not settings.salesforce_url:
        env.update(
            {
                "SALESFORCE_URL": sandbox_url,
                "SALESFORCE_USERNAME": "bot@example.com",
                "SALESFORCE_PASSWORD": "sandbox-password",
                "SALESFORCE_SECURITY_TOKEN": "sandbox-token",
            }
        )
    if not settings.aha_url and _policy_records_in_aha(settings):
        env.update({"AHA_URL": sandbox_url, "AHA_API_KEY": "sandbox-key"})
    if not settings.chat_webhook_url:
        env["CHAT_WEBHOOK_URL"] = sandbox_url
    return env


def _policy_records_in_aha(settings: Settings) -> bool:
    """Whether the policy names an Aha! product (AHA_URL without one is a configuration error)."""
    from bot.policy.schema import PolicyError, load_policy

    try:
        return load_policy(settings.helpdesk_bot_policy).feedback.aha is not None
    except (PolicyError, OSError):
        return False  # the services refuse to start and say why


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a process exited during start-up")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def up(settings: Settings, port: int) -> int:
    home = settings.helpdesk_bot_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HELPDESK_BOT_HOME=str(home))
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started: dict[str, str] = {}
    try:
        if not settings.redis_url:
            procs.append(("redis", embedded_redis.start(home, settings.redis_socket)))
            started["REDIS_URL"] = f"unix://{settings.redis_socket}"
            _say(f"no REDIS_URL: started an embedded Redis at unix://{settings.redis_socket}")
        if not any(settings.desk_url(d) for d in DESKS):
            sandbox_port = port + 1
            sandbox_url = f"http://127.0.0.1:{sandbox_port}"
            started.update(sandbox_env(home, sandbox_url))
            started.update(sandbox_services_env(settings, sandbox_url))
            env.update(started)
            sandbox = subprocess.Popen(
                _bot_cmd("sandbox", "--port", str(sandbox_port), "--bot-url", f"http://127.0.0.1:{port}"), env=env
            )
            procs.append(("sandbox", sandbox))
            _wait_http(f"{sandbox_url}/_sandbox/health", [sandbox])
            _say(
                f"no ZENDESK_URL/JIRA_URL: running against the built-in sandbox at {sandbox_url} "
                "(demo desks seeded; it sends signed webhooks to this bot)"
            )
            faked: list[str] = [name for name in ("SALESFORCE_URL", "AHA_URL") if name in started]
            if "CHAT_WEBHOOK_URL" in started:
                faked.append("the chat webhooks")
            if faked:
                _say(f"{', '.join(faked)} unset: the sandbox's Salesforce, Aha! and chat fakes answer instead")
        stackfile.write(home, started)  # commands from another terminal with this home use the same stack
        web = subprocess.Popen(_bot_cmd("web", "--port", str(port)), env=env)
        procs.append(("web", web))
        procs.append(("worker", subprocess.Popen(_bot_cmd("worker"), env=env)))
        procs.append(("beat", subprocess.Popen(_bot_cmd("beat"), env=env)))
        _wait_http(f"http://127.0.0.1:{port}/healthz", [web])
        _say(
            f"up: http://127.0.0.1:{port} (webhooks at /webhooks/zendesk and /webhooks/jira, "
            "/healthz, /readyz, /metrics); Ctrl-C stops everything"
        )
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    _say(f"{name} exited with {proc.returncode}; stopping")
                    stopping = True
                    break
            time.sleep(0.2)
        return 0
    except RuntimeError as exc:
        _say(str(exc))
        return 1
    finally:
        stackfile.remove(home)
        _stop_all(procs)


def _stop_all(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Stop children newest first (web before Redis) so nothing loses its store while working."""
    for _, proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _say("stopped")
