"""Wire-protocol corner cases against madang over raw sockets and psycopg2:
GSSENCRequest, protocol 3.2 negotiation, CancelRequest with a wrong key, startup errors
(3D000, 28P01, 53300), a garbage startup packet, and 64 concurrent clients."""
import base64
import hashlib
import hmac
import os
import random
import socket
import struct
import threading
import time

import psycopg2
import psycopg2.errors
import pytest

from conftest import MadangServer

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


# ---------------------------------------------------------------- raw protocol helpers

def connect_raw(server):
    s = socket.create_connection(("127.0.0.1", server.pg_port), timeout=15)
    s.settimeout(15)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_msg(s):
    t = recv_exact(s, 1)
    (ln,) = struct.unpack("!I", recv_exact(s, 4))
    return t, recv_exact(s, ln - 4)


def send_startup(s, params, version=196608):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    s.sendall(struct.pack("!I", len(body) + 4) + body)


def send_msg(s, t, body):
    s.sendall(t + struct.pack("!I", len(body) + 4) + body)


def error_fields(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def scram_auth(s, first_body, user, password):
    """Finish SCRAM-SHA-256 given the AuthenticationSASL body. Returns the next message after
    the SASL exchange (AuthenticationOk 'R' or an ErrorResponse 'E')."""
    (code,) = struct.unpack("!I", first_body[:4])
    assert code == 10, "expected AuthenticationSASL, got %d" % code
    mechs = [m for m in first_body[4:].split(b"\0") if m]
    assert b"SCRAM-SHA-256" in mechs, mechs
    nonce = base64.b64encode(os.urandom(18)).decode()
    client_first_bare = "n=,r=" + nonce
    client_first = "n,," + client_first_bare
    cf = client_first.encode()
    send_msg(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(cf)) + cf)
    t, body = read_msg(s)
    if t == b"E":
        return t, body
    assert t == b"R" and struct.unpack("!I", body[:4])[0] == 11, (t, body)
    server_first = body[4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salt = base64.b64decode(attrs["s"])
    iters = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_message = ",".join([client_first_bare, server_first, without_proof]).encode()
    sig = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    send_msg(s, b"p", (without_proof + ",p=" + base64.b64encode(proof).decode()).encode())
    t, body = read_msg(s)
    if t == b"E":
        return t, body
    assert t == b"R" and struct.unpack("!I", body[:4])[0] == 12, (t, body)  # SASLFinal
    return read_msg(s)


def raw_login(server, user="admin", password=None, database="madang", version=196608, extra=None, sock=None):
    """Log in over a raw socket. Returns (socket, first message after auth, all messages seen)."""
    password = server.admin_password if password is None else password
    s = sock or connect_raw(server)
    params = {"user": user, "database": database}
    params.update(extra or {})
    send_startup(s, params, version)
    seen = []
    t, body = read_msg(s)
    seen.append((t, body))
    if t == b"v":
        t, body = read_msg(s)
        seen.append((t, body))
    if t == b"R":
        t, body = scram_auth(s, body, user, password)
        seen.append((t, body))
    return s, (t, body), seen


def read_until_ready(s):
    msgs = []
    while True:
        t, body = read_msg(s)
        msgs.append((t, body))
        if t == b"Z":
            return msgs


def expect_startup_error(server, **kw):
    s, (t, body), seen = raw_login(server, **kw)
    try:
        assert t == b"E", "expected ErrorResponse, got %r %r" % (t, body[:200])
        return error_fields(body)
    finally:
        s.close()


# ---------------------------------------------------------------- tests

def test_gssenc_request_answered_N_then_startup_works(server):
    s = connect_raw(server)
    try:
        s.sendall(struct.pack("!II", 8, GSSENC_REQUEST))
        assert recv_exact(s, 1) == b"N"
        s2, (t, body), _ = raw_login(server, sock=s)
        assert t == b"R" and struct.unpack("!I", body[:4])[0] == 0, (t, body)  # AuthenticationOk
        msgs = read_until_ready(s)
        assert msgs[-1][0] == b"Z"
        send_msg(s, b"Q", b"SELECT 41 + 1\0")
        msgs = read_until_ready(s)
        rows = [b for t, b in msgs if t == b"D"]
        assert len(rows) == 1 and rows[0].endswith(b"42")
        send_msg(s, b"X", b"")
    finally:
        s.close()


def test_ssl_request_answered_S(server):
    s = connect_raw(server)
    try:
        s.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert recv_exact(s, 1) == b"S"
    finally:
        s.close()


def test_protocol_3_2_gets_negotiate_protocol_version(server):
    s = connect_raw(server)
    try:
        send_startup(s, {"user": "admin", "database": "madang", "_pq_.madang_test_option": "1"},
                     version=(3 << 16) | 2)
        t, body = read_msg(s)
        assert t == b"v", (t, body)
        version, n_unrec = struct.unpack("!II", body[:8])
        # PostgreSQL sends the full newest version it speaks (PG_PROTOCOL_LATEST: 3.0 = 196608)
        assert version == 196608
        names = [x for x in body[8:].split(b"\0") if x]
        assert n_unrec == len(names)
        assert b"_pq_.madang_test_option" in names
        t, body = read_msg(s)
        assert t == b"R", (t, body)
        assert struct.unpack("!I", body[:4])[0] == 10  # AuthenticationSASL
        t, body = scram_auth(s, body, "admin", server.admin_password)
        assert t == b"R" and struct.unpack("!I", body[:4])[0] == 0, (t, body)
        msgs = read_until_ready(s)
        keys = [b for t, b in msgs if t == b"K"]
        assert len(keys) == 1
        send_msg(s, b"Q", b"SELECT 7\0")
        msgs = read_until_ready(s)
        assert [b for t, b in msgs if t == b"D"][0].endswith(b"7")
    finally:
        s.close()


def test_protocol_2_rejected(server):
    s = connect_raw(server)
    try:
        send_startup(s, {"user": "admin", "database": "madang"}, version=(2 << 16))
        t, body = read_msg(s)
        assert t == b"E"
        assert error_fields(body)["C"] == "0A000"
    finally:
        s.close()


def test_cancel_request_with_wrong_key_does_nothing(server):
    conn = psycopg2.connect(server.dsn())
    try:
        pid = conn.get_backend_pid()
        result = {}

        def run():
            try:
                cur = conn.cursor()
                t0 = time.time()
                cur.execute("SELECT sum(hash(a.id * b.id)) FROM trades a, (SELECT id FROM trades LIMIT 60) b")
                result["row"] = cur.fetchone()
                result["secs"] = time.time() - t0
            except Exception as e:  # noqa: BLE001
                result["err"] = e

        th = threading.Thread(target=run)
        th.start()
        time.sleep(0.3)
        for key in (0, 12345, 0x7FFFFFFF):
            s = connect_raw(server)
            s.sendall(struct.pack("!IIII", 16, CANCEL_REQUEST, pid, key))
            # the server closes the connection without a reply
            assert s.recv(1) == b""
            s.close()
        # a cancel for a pid that does not exist
        s = connect_raw(server)
        s.sendall(struct.pack("!IIII", 16, CANCEL_REQUEST, pid + 100000, 1))
        assert s.recv(1) == b""
        s.close()
        th.join(120)
        assert "err" not in result, result.get("err")
        assert result["row"][0] is not None
    finally:
        conn.close()


def test_unknown_database_3D000(server):
    f = expect_startup_error(server, database="no_such_db")
    assert f["C"] == "3D000", f
    assert f["S"] == "FATAL"
    assert "no_such_db" in f["M"]


def test_unknown_database_psycopg2(server):
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(server.dsn(dbname="no_such_db"))
    assert "no_such_db" in str(ei.value) and "does not exist" in str(ei.value)


def test_wrong_password_28P01(server):
    f = expect_startup_error(server, password="wrong-password")
    assert f["C"] == "28P01", f
    assert f["S"] == "FATAL"
    assert "password authentication failed" in f["M"], f


def test_unknown_user_28P01(server):
    # PostgreSQL does not reveal whether the user exists
    f = expect_startup_error(server, user="nobody_here", password="x")
    assert f["C"] == "28P01", f
    assert "password authentication failed" in f["M"], f


def test_wrong_password_psycopg2(server):
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(server.dsn(password="wrong"))
    assert "password authentication failed" in str(ei.value)


def test_too_many_connections_53300(tmp_path):
    s = MadangServer(tmp_path / "data", extra_args=["--max-connections", "3"]).start()
    conns = []
    try:
        for _ in range(3):
            conns.append(psycopg2.connect(s.dsn()))
        f = expect_startup_error(s)
        assert f["C"] == "53300", f
        with pytest.raises(psycopg2.OperationalError) as ei:
            psycopg2.connect(s.dsn())
        assert "too many" in str(ei.value).lower()
        # the existing ones are fine
        for c in conns:
            cur = c.cursor()
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        # closing one frees a slot
        conns.pop().close()
        deadline = time.time() + 10
        while True:
            try:
                conns.append(psycopg2.connect(s.dsn()))
                break
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        cur = conns[-1].cursor()
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
    finally:
        for c in conns:
            c.close()
        assert s.stop() == 0


@pytest.mark.parametrize("garbage", [
    struct.pack("!I", 0xFFFFFFFF) + b"junk" * 10,          # absurd length
    struct.pack("!I", 3),                                    # shorter than the length word
    struct.pack("!I", 9) + b"\x00\x03\x00\x00\x00",          # truncated parameter list
    struct.pack("!II", 40, 196608) + b"user\0admin\0database",  # length bigger than what follows, then EOF
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                    # HTTP to the pg port
], ids=["huge_len", "tiny_len", "no_terminator", "short_then_eof", "http"])
def test_garbage_startup_closes_only_that_connection(server, garbage):
    good = psycopg2.connect(server.dsn())
    try:
        s = connect_raw(server)
        try:
            s.sendall(garbage)
            s.shutdown(socket.SHUT_WR)
            data = b""
            s.settimeout(10)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            # either a FATAL ErrorResponse or a plain close; never a successful startup
            assert data == b"" or data[:1] == b"E", data[:200]
        finally:
            s.close()
        cur = good.cursor()
        cur.execute("SELECT count(*) FROM customers")
        assert cur.fetchone() == (10000,)
        c2 = psycopg2.connect(server.dsn())
        c2.cursor().execute("SELECT 1")
        c2.close()
    finally:
        good.close()


def test_malformed_message_after_auth_closes_only_that_connection(server):
    good = psycopg2.connect(server.dsn())
    s, (t, body), _ = raw_login(server)
    try:
        assert t == b"R"
        read_until_ready(s)
        # a Query message whose length runs past the end; then an unknown message type
        s.sendall(b"Q" + struct.pack("!I", 0x7FFFFFF0) + b"SELECT 1\0")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data == b"" or data[:1] == b"E", data[:200]
    finally:
        s.close()
    s, (t, body), _ = raw_login(server)
    try:
        read_until_ready(s)
        send_msg(s, b"\x01", b"xyz")  # unknown frontend message type
        t, body = read_msg(s)
        assert t == b"E"
        assert error_fields(body)["C"] == "08P01", error_fields(body)
    finally:
        s.close()
    cur = good.cursor()
    cur.execute("SELECT 3")
    assert cur.fetchone() == (3,)
    good.close()


def test_64_concurrent_connections_mixed_queries(server):
    n_threads, duration = 64, 20
    errors = []
    counts = [0] * n_threads
    start = threading.Barrier(n_threads)
    deadline_holder = {}
    queries = [
        ("SELECT count(*) FROM customers", None, lambda r: r == [(10000,)]),
        ("SELECT name FROM customers WHERE id = %s", lambda rnd: (rnd.randint(1, 10000),), lambda r: len(r) == 1),
        ("SELECT symbol, count(*), sum(quantity) FROM trades WHERE id BETWEEN %s AND %s + 5000 GROUP BY symbol",
         lambda rnd: (rnd.randint(1, 990000),) * 2, lambda r: len(r) >= 1),
        ("SELECT o.status, count(*) FROM orders o JOIN accounts a ON a.id = o.account_id "
         "WHERE a.customer_id = %s GROUP BY o.status", lambda rnd: (rnd.randint(1, 10000),), lambda r: True),
        ("SELECT %s::int + 1, %s::text, now() IS NOT NULL", lambda rnd: (rnd.randint(0, 10 ** 6), "x'y"),
         lambda r: len(r) == 1 and r[0][1] == "x'y" and r[0][2] is True),
    ]

    def worker(i):
        rnd = random.Random(i)
        try:
            # the sanitizer build logs in ~10x slower; 64 at once on 2 cores take a while
            conn = psycopg2.connect(server.dsn(), connect_timeout=240 if os.environ.get("MADANG_ASAN") else 30)
            conn.autocommit = i % 2 == 0
        except Exception as e:  # noqa: BLE001
            errors.append("connect %d: %r" % (i, e))
            start.abort()
            return
        try:
            start.wait(60)
            deadline_holder.setdefault("t", time.time() + duration)
            deadline = deadline_holder["t"]
            cur = conn.cursor()
            while time.time() < deadline:
                sql, params, ok = queries[rnd.randrange(len(queries))]
                cur.execute(sql, params(rnd) if params else None)
                rows = cur.fetchall()
                if not ok(rows):
                    errors.append("%d: bad result for %s: %r" % (i, sql, rows[:3]))
                    return
                if not conn.autocommit:
                    conn.commit()
                counts[i] += 1
        except Exception as e:  # noqa: BLE001
            errors.append("%d: %r" % (i, e))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(duration + 120)
    assert not any(th.is_alive() for th in threads), "threads hung"
    assert not errors, errors[:10]
    assert all(c > 0 for c in counts), counts
    # still healthy afterwards
    assert server.psql("SELECT count(*) FROM trades").stdout.strip() == "1000000"
