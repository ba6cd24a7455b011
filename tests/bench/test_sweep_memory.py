"""The sweep benchmark's worker measures its own memory, not the bench process's that started it.

The bench process holds the seeded desk (hundreds of MiB at 100,000 tickets); the worker it starts must report
only what the sweep adds. Each test starts a worker-like child from a process holding a ballast and reads what
`measured()` reports there.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.bench.common import ROOT

BALLAST_MIB = 200


def child_figures(block: str) -> dict[str, float]:
    """What `measured()` reports in a new process around `block`, started while this one holds a ballast."""
    ballast = b"\1" * (BALLAST_MIB << 20)  # resident: every page written
    code = "\n".join(
        [
            "import json",
            "from tests.bench.sweep import measured",
            "with measured() as m:",
            f"    {block}",
            "print(json.dumps(m))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    del ballast
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def test_a_block_that_allocates_nothing_grows_nothing_whatever_its_parent_holds() -> None:
    figures = child_figures("pass")

    assert figures["rss_peak_mib"] - figures["rss_before_mib"] < 8
    assert figures["rss_peak_mib"] < BALLAST_MIB


def test_a_block_that_allocates_shows_its_peak_after_it_freed_it() -> None:
    figures = child_figures("x = b'1' * (64 << 20)\n    del x")

    assert 60 <= figures["rss_peak_mib"] - figures["rss_before_mib"] < 80
