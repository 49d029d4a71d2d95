"""Runs the C unit tests (tests/unit/*.c, built by make) so one runner reports everything."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT_DIR = os.environ.get("MADANG_UNIT_DIR", os.path.join(ROOT, "build", "tests"))
BINS = sorted(glob.glob(os.path.join(UNIT_DIR, "test_*")))
BINS = [b for b in BINS if os.access(b, os.X_OK) and not b.endswith(".d")]


@pytest.mark.parametrize("binary", BINS, ids=[os.path.basename(b) for b in BINS])
def test_unit(binary):
    env = dict(os.environ, MADANG_ROOT=ROOT, MADANG_CORPUS_DIR=os.path.join(ROOT, "tests", "corpus", "client-queries"))
    r = subprocess.run([binary], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-6000:]


def test_unit_binaries_exist():
    assert BINS, "no unit test binaries in %s; run make" % UNIT_DIR
