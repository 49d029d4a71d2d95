"""Issue 3 limits: max message size, auth timeout, idle-in-transaction timeout."""
import socket
import struct
import time

import psycopg2
import pytest

from conftest import MadangServer


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("limits") / "data",
                     extra_args=["--max-message-bytes", "65536", "--auth-timeout", "2"]).start()
    yield s
    s.stop()


def test_oversized_message_closes_only_that_connection(small):
    victim = psycopg2.connect(small.dsn())
    other = psycopg2.connect(small.dsn())
    cur = victim.cursor()
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT '%s'" % ("x" * 100000))
    assert victim.closed or victim.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
    c2 = other.cursor()
    c2.execute("SELECT 1")
    assert c2.fetchone() == (1,)
    log = small.read_log()
    assert "message_too_large" in log
    other.close()


def test_auth_timeout_drops_silent_client(small):
    s = socket.create_connection(("127.0.0.1", small.pg_port))
    s.settimeout(10)
    t0 = time.time()
    data = s.recv(100)  # server closes without us sending anything
    assert data == b""
    assert 1.5 <= time.time() - t0 < 8
    s.close()


def test_auth_timeout_during_startup_packet(small):
    s = socket.create_connection(("127.0.0.1", small.pg_port))
    s.settimeout(10)
    s.sendall(struct.pack("!I", 100)[:3])  # half a length word, then silence
    assert s.recv(100) == b""
    s.close()


def test_idle_in_transaction_timeout(small):
    c = psycopg2.connect(small.dsn())
    cur = c.cursor()
    cur.execute("SET idle_in_transaction_session_timeout = '500ms'")
    cur.execute("SELECT 1")  # psycopg2 opened a transaction block
    time.sleep(1.5)
    with pytest.raises(psycopg2.OperationalError) as e:
        cur.execute("SELECT 2")
    assert "idle-in-transaction" in str(e.value) or "closed" in str(e.value) or "terminat" in str(e.value)
    # outside a transaction nothing times out
    c2 = psycopg2.connect(small.dsn())
    c2.autocommit = True
    cur2 = c2.cursor()
    cur2.execute("SET idle_in_transaction_session_timeout = '500ms'")
    time.sleep(1.0)
    cur2.execute("SELECT 3")
    assert cur2.fetchone() == (3,)
    c2.close()
