"""Jupyter: docs/examples/madang_impersonation.ipynb executed headless with `jupyter nbconvert`.

The notebook logs in as the proxy user `jupyterhub` and impersonates $JUPYTERHUB_USER
(`options='-c madang.impersonate=…'`). A private demo server (the shared one must not see the
policy added here): analyst may read customers but a row policy admits only country 'KR'.
Needs jupyter-nbconvert, python3-ipykernel and python3-matplotlib (scripts/deps)."""
import os
import shutil
import subprocess

import nbformat
import pytest

from conftest import ROOT, MadangServer

NOTEBOOK = os.path.join(ROOT, "docs", "examples", "madang_impersonation.ipynb")
PROXY_PASSWORD = "jupyterhub-secret-pw"


def jupyter():
    exe = "/usr/bin/jupyter" if os.path.exists("/usr/bin/jupyter") else shutil.which("jupyter")
    assert exe, "jupyter not installed (run scripts/deps)"
    return exe


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("jupyter") / "data", demo=True).start(timeout=300)
    try:
        s.psql("CREATE USER jupyterhub PASSWORD '%s'" % PROXY_PASSWORD)
        s.psql("GRANT SELECT ON customers TO USER analyst")
        s.psql("CREATE POLICY kr ON customers FOR SELECT TO analyst USING (country = 'KR')")
        s.psql("GRANT IMPERSONATE ON USER analyst TO USER jupyterhub")
        r = s.psql("SELECT proxy, target_kind, target FROM madang.impersonation")
        assert r.stdout.split() == ["jupyterhub|user|analyst"], r.stdout
        # without impersonation the admin sees every country: the subset below is the policy's
        r = s.psql("SELECT count(DISTINCT country) FROM customers")
        assert int(r.stdout) > 1, r.stdout
        yield s
    finally:
        s.stop()


def run_notebook(server, tmp_path, hub_user):
    plot = tmp_path / "plot.png"
    env = dict(os.environ)
    env.update({
        "MADANG_HOST": "127.0.0.1",
        "MADANG_PORT": str(server.pg_port),
        "MADANG_PROXY_USER": "jupyterhub",
        "MADANG_PROXY_PASSWORD": PROXY_PASSWORD,
        "JUPYTERHUB_USER": hub_user,
        "MADANG_PLOT_PATH": str(plot),
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silences ipykernel's debugger warning
    })
    cmd = [jupyter(), "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=60",
           "--output-dir", str(tmp_path), "--output", "executed.ipynb", NOTEBOOK]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    return r, tmp_path / "executed.ipynb", plot


def cell_text(nb, cell_id):
    cell = next(c for c in nb["cells"] if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_notebook_runs_as_the_hub_user(hub_server, tmp_path):
    r, out, plot = run_notebook(hub_server, tmp_path, "analyst")
    assert r.returncode == 0, r.stdout + r.stderr
    nb = nbformat.read(str(out), as_version=4)  # joins the multi-line strings of the JSON
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert cell_text(nb, "connect").strip() == "current_user: analyst", cell_text(nb, "connect")
    rows = [line.split("\t") for line in cell_text(nb, "rows").splitlines() if line]
    assert rows and all(len(row) == 2 for row in rows), rows
    assert [row[0] for row in rows] == ["KR"], rows  # only what the row policy admits
    assert int(rows[0][1]) > 0, rows
    assert plot.exists() and plot.stat().st_size > 0
    with open(plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_notebook_refused_without_impersonate_grant(hub_server, tmp_path):
    r, out, plot = run_notebook(hub_server, tmp_path, "support")
    assert r.returncode != 0, r.stdout + r.stderr
    err = r.stdout + r.stderr
    assert 'permission denied to impersonate "support"' in err, err[-4000:]
    assert "GRANT IMPERSONATE" in err, err[-4000:]
    assert not plot.exists()
