"""gunicorn's worker count follows the CPUs the container may use (its cgroup quota), not the host's cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Settings
from bot.web import available_cpus, cgroup_cpu_quota, default_workers


def cgroup(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup tree and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "proc-cgroup").write_text(proc)
    return root, tmp_path / "proc-cgroup"


def test_v2_container_quota(tmp_path: Path) -> None:
    """`docker run --cpus 1.5`: the container sees its own cgroup as the root."""
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "150000 100000\n"})
    assert cgroup_cpu_quota(root, proc) == 1.5


def test_v2_unlimited(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_quota(root, proc) is None


def test_v2_the_smallest_quota_up_the_tree_applies(tmp_path: Path) -> None:
    """A Kubernetes pod's limit sits on the pod's cgroup, above the container's."""
    root, proc = cgroup(
        tmp_path,
        "0::/kubepods/pod1/ctr\n",
        {
            "kubepods/cpu.max": "max 100000",
            "kubepods/pod1/cpu.max": "50000 100000",
            "kubepods/pod1/ctr/cpu.max": "max 100000",
        },
    )
    assert cgroup_cpu_quota(root, proc) == 0.5


def test_v1_quota(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n",
        {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"},
    )
    assert cgroup_cpu_quota(root, proc) == 2.0


def test_v1_unlimited(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, "1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_quota(root, proc) is None


def test_no_cgroup_at_all(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path / "none", tmp_path / "no-proc-file") is None


def test_a_fractional_quota_rounds_up_and_never_exceeds_the_cores(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "50000 100000"})
    assert available_cpus(root, proc) == 1
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": f"{(cores + 8) * 100000} 100000"})
    assert available_cpus(root, proc) == cores


@pytest.mark.parametrize("quota, workers", [("100000 100000", 2), ("max 100000", None)])
def test_workers_are_two_per_cpu_of_the_limit(tmp_path: Path, quota: str, workers: int | None) -> None:
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": quota})
    expected = workers or 2 * len(os.sched_getaffinity(0))
    assert default_workers(Settings(), root, proc) == expected


def test_the_setting_wins_over_the_quota(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "100000 100000"})
    assert default_workers(Settings(helpdesk_bot_web_workers=7), root, proc) == 7
