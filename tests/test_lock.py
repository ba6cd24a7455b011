"""The lock files are the truth about installed versions: they satisfy pyproject.toml, agree with one another,
carry hashes, and the venv `make install` made holds exactly what they pin."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
LOCKS = ("requirements.txt", "requirements-dev.txt", "requirements-build.txt")
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", flags=re.M)


def pins(name: str) -> dict[str, str]:
    """name -> version of every `name==version` line of a lock file (names normalised)."""
    text = (ROOT / name).read_text()
    return {canonicalize_name(n): v for n, v in PIN.findall(text)}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def assert_satisfied(requirements: list[str], lock: str) -> None:
    pinned = pins(lock)
    for line in requirements:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is in pyproject.toml but not in {lock}: run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {req.name}=={pinned[name]}, outside pyproject.toml's {req.specifier}: run `make lock`"
        )


def test_lock_satisfies_pyproject() -> None:
    meta = project()
    assert_satisfied(meta["project"]["dependencies"], "requirements.txt")
    assert_satisfied(
        meta["project"]["dependencies"] + meta["project"]["optional-dependencies"]["dev"], "requirements-dev.txt"
    )
    assert_satisfied(meta["build-system"]["requires"], "requirements-build.txt")


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-build.txt"])
def test_image_locks_agree_with_dev_lock(lock: str) -> None:
    """The image runs on the versions the test suite ran on."""
    dev = pins("requirements-dev.txt")
    different = {n: (v, dev.get(n)) for n, v in pins(lock).items() if dev.get(n) != v}
    assert not different, f"{lock} and requirements-dev.txt disagree (lock, dev): {different}: run `make lock`"


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_has_hashes(lock: str) -> None:
    """`pip install --require-hashes` refuses a file with one unhashed pin; find it here, not in the build."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, f"{lock}: no hash for {block.splitlines()[0]}"


def test_venv_holds_exactly_the_lock() -> None:
    """What `make install` promises: the locked versions, nothing more, and the bot itself editable."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running from a virtualenv: nothing to compare")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    bot = installed.pop("helpdesk-bot")
    assert bot == project()["project"]["version"]
    locked = pins("requirements-dev.txt")
    missing = {n: v for n, v in locked.items() if installed.get(n) != v}
    extra = {n: v for n, v in installed.items() if n not in locked}
    assert not missing, f"locked but not installed at that version: {missing}: run `make install`"
    assert not extra, (
        f"installed but not locked: {extra}: run `make install` (or `make lock` if pyproject.toml needs it)"
    )


def test_bot_is_installed_editable() -> None:
    """The venv runs the working tree, so an edit is live without reinstalling."""
    dist = metadata.distribution("helpdesk-bot")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct.get("dir_info", {}).get("editable") is True, direct
    assert Path(direct["url"].removeprefix("file://")).resolve() == ROOT.resolve()
