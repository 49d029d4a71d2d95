"""Helpers shared by the benchmarks: start a private madang, read its RSS."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from conftest import MadangServer  # noqa: E402


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def start(tmpdir, demo=True):
    return MadangServer(os.path.join(tmpdir, "data"), demo=demo).start(timeout=300)
