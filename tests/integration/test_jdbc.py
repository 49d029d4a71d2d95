"""PgJDBC (Debian's postgresql.jar) against madang: tests/java/JdbcTest.java."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

JAR = "/usr/share/java/postgresql.jar"
SRC = os.path.join(ROOT, "tests", "java", "JdbcTest.java")


@pytest.fixture(scope="module")
def jdbc_classes(tmp_path_factory):
    for tool in ("javac", "java"):
        assert shutil.which(tool), tool + " not installed"
    assert os.path.exists(JAR), JAR
    out = tmp_path_factory.mktemp("jdbc")
    r = subprocess.run(["javac", "-encoding", "UTF-8", "-cp", JAR, "-d", str(out), SRC],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return str(out)


def run_java(classes, url, password, timeout=600):
    return subprocess.run(["java", "-Dfile.encoding=UTF-8", "-cp", JAR + os.pathsep + classes, "JdbcTest",
                           url, "admin", password],
                          capture_output=True, text=True, timeout=timeout)


def test_jdbc(server, jdbc_classes):
    url = "jdbc:postgresql://127.0.0.1:%d/madang?prepareThreshold=5&sslmode=disable" % server.pg_port
    r = run_java(jdbc_classes, url, server.admin_password)
    out = r.stdout + r.stderr
    for step in ("connect", "metadata.getTables", "metadata.getColumns", "metadata.getSchemas",
                 "metadata.getPrimaryKeys", "metadata.getTypeInfo", "prepared.binary", "fetchsize.trades",
                 "cancel", "batch", "errors"):
        assert ("OK " + step + "\n") in r.stdout, "step %s failed:\n%s" % (step, out[-6000:])
    assert r.returncode == 0, out[-6000:]


def test_jdbc_over_tls(server, jdbc_classes):
    # sslmode=require does not verify the certificate; the whole program runs over TLS
    url = "jdbc:postgresql://127.0.0.1:%d/madang?sslmode=require" % server.pg_port
    r = run_java(jdbc_classes, url, server.admin_password)
    assert "OK connect\n" in r.stdout, (r.stdout + r.stderr)[-4000:]
    assert "OK prepared.binary\n" in r.stdout, (r.stdout + r.stderr)[-4000:]
