"""node-postgres (pg, pinned in tests/node/package-lock.json) against madang."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

NODE_DIR = os.path.join(ROOT, "tests", "node")


@pytest.fixture(scope="module")
def node_modules():
    for tool in ("node", "npm"):
        assert shutil.which(tool), tool + " not installed"
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    return NODE_DIR


def run_node(connstring):
    return subprocess.run(["node", "test.js", connstring], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=300)


def test_node_pg(server, node_modules):
    r = run_node(server.url() + "?sslmode=disable")
    out = r.stdout + r.stderr
    for step in ("simple", "parameterized", "types_roundtrip", "array_param", "error_42P01", "transaction",
                 "rowmode_array_and_many_rows"):
        assert ("OK " + step + "\n") in r.stdout, "step %s failed:\n%s" % (step, out[-5000:])
    assert r.returncode == 0, out[-5000:]
    assert "ALL OK" in r.stdout


def test_node_pg_tls(server, node_modules):
    # pg's sslmode=no-verify: TLS without certificate verification
    r = run_node(server.url() + "?sslmode=no-verify")
    assert "OK simple\n" in r.stdout, (r.stdout + r.stderr)[-5000:]
    assert "OK error_42P01\n" in r.stdout, (r.stdout + r.stderr)[-5000:]
