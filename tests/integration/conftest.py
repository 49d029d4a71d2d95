"""Shared fixtures: a real madang server started by the tests on loopback ports.

Every test that needs a server either uses the session-wide `server` (demo
data loaded once) or starts its own with `MadangServer(...)` when it needs a
private data dir (lifecycle tests).
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MADANG = os.environ.get("MADANG_BIN", os.path.join(ROOT, "build", "madang"))
ADMIN_PASSWORD = "admin-secret-pw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MadangServer:
    def __init__(self, data_dir, demo=False, env=None, extra_args=(), admin_password=ADMIN_PASSWORD):
        self.data_dir = str(data_dir)
        self.pg_port = free_port()
        self.http_port = free_port()
        self.demo = demo
        self.extra_args = list(extra_args)
        self.env = dict(os.environ)
        if admin_password is not None:
            self.env["MADANG_ADMIN_PASSWORD"] = admin_password
        else:
            self.env.pop("MADANG_ADMIN_PASSWORD", None)
        self.env.update(env or {})
        self.admin_password = admin_password
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(self.data_dir.rstrip("/")) or ".",
                                     os.path.basename(self.data_dir.rstrip("/")) + ".log")

    def args(self):
        a = [MADANG, "serve", "--data", self.data_dir, "--pg-port", str(self.pg_port),
             "--http-port", str(self.http_port)]
        if self.demo:
            a.append("--demo")
        return a + self.extra_args

    def start(self, timeout=120, tries=3):
        self.log = open(self.log_path, "ab")
        logged = self.log.tell()
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=self.log, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                # free_port() lets go of its port before madang binds it: another
                # socket of the machine can take it meanwhile; then new ports
                with open(self.log_path, "rb") as f:
                    f.seek(logged)
                    taken = b"Address already in use" in f.read()
                if tries > 1 and taken:
                    self.log.close()
                    self.pg_port, self.http_port = free_port(), free_port()
                    return self.start(timeout, tries - 1)
                raise RuntimeError("madang exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with urllib.request.urlopen(self.http_url("/api/v1/healthz"), timeout=1) as r:
                    if r.status == 200:
                        return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("madang did not become healthy:\n" + self.read_log())

    def http_url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def dsn(self, user="admin", password=None, **kw):
        password = self.admin_password if password is None and user == "admin" else password
        parts = ["host=127.0.0.1", "port=%d" % self.pg_port, "dbname=madang", "user=%s" % user]
        if password is not None:
            parts.append("password=%s" % password)
        parts += ["%s=%s" % (k, v) for k, v in kw.items()]
        return " ".join(parts)

    def url(self, user="admin", password=None):
        password = self.admin_password if password is None and user == "admin" else password
        return "postgresql://%s:%s@127.0.0.1:%d/madang" % (user, password, self.pg_port)

    def psql(self, sql, user="admin", password=None, check=True, extra=(), input=None, env=None):
        e = dict(os.environ)
        e["PGPASSWORD"] = self.admin_password if password is None and user == "admin" else (password or "")
        e["PGCONNECT_TIMEOUT"] = "10"
        e.update(env or {})
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.pg_port),
               "-U", user, "-d", "madang", "-At"] + list(extra)
        if sql is not None:
            cmd += ["-c", sql]
        r = subprocess.run(cmd, capture_output=True, text=True, env=e, input=input, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError("psql failed (%d): %s\n%s" % (r.returncode, r.stderr, sql))
        return r


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared") / "data"
    s = MadangServer(d, demo=True).start(timeout=300)
    yield s
    rc = s.stop()
    assert rc == 0, "server exit code %s\n%s" % (rc, s.read_log()[-4000:])


@pytest.fixture
def fresh_server(tmp_path):
    s = MadangServer(tmp_path / "data")
    s.start()
    yield s
    s.stop()
