"""LDAP login against a real OpenLDAP slapd (ldap_server.py).

madang runs with --demo and a config file pointing at slapd: LDAP users log in over
the PostgreSQL protocol with a cleartext password (TLS only), are created on first
login, and their LDAP groups (groupOfNames under ou=groups) become madang groups marked
synced, refreshed every ldap.sync_interval (2 s here). Local SCRAM users keep working.

Login outcomes are checked over a raw socket (optionally TLS) so the exact SQLSTATE of
the startup error is visible; queries go through psycopg2.

The tests run in file order and share one slapd and one madang; a test that changes
the directory (bob leaves analysts, carol is deleted) puts it back when it ends.
"""
import base64
import glob
import hashlib
import hmac
import os
import re
import socket
import ssl
import struct
import time

import psycopg2
import pytest

from conftest import MadangServer
from ldap_server import LdapError, LdapServer, ROOT_DN

SYNC_S = 2
PASSWORDS = {"alice": "alice-ldap-pw", "bob": "bob-ldap-pw", "carol": "carol-ldap-pw"}
WRONG_PW = "wrong-pw-123"


# --------------------------------------------------------------------------- raw protocol

SSL_REQUEST = 80877103


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def _read_msg(s):
    t = _recv_exact(s, 1)
    (ln,) = struct.unpack("!I", _recv_exact(s, 4))
    return t, _recv_exact(s, ln - 4)


def _send_msg(s, t, body):
    s.sendall(t + struct.pack("!I", len(body) + 4) + body)


def _error_fields(body):
    return {chr(p[0]): p[1:].decode("utf-8", "replace") for p in body.split(b"\0") if p}


class Login:
    """Outcome of one raw login: ok, the auth request codes the server sent
    (3 = cleartext password, 10 = SASL), the ErrorResponse fields, whether TLS was used."""

    def __init__(self):
        self.ok = False
        self.auth = []
        self.error = {}
        self.tls = False
        self.closed = False

    @property
    def code(self):
        return self.error.get("C")

    @property
    def message(self):
        return self.error.get("M", "")

    def __repr__(self):
        return "Login(ok=%s tls=%s auth=%s error=%s closed=%s)" % (self.ok, self.tls, self.auth, self.error,
                                                                   self.closed)


def _scram(s, user, password, res):
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=,r=" + nonce
    cf = ("n,," + first_bare).encode()
    _send_msg(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(cf)) + cf)
    t, body = _read_msg(s)
    if t == b"E":
        return t, body
    server_first = body[4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    sig = hmac.new(stored_key, ",".join([first_bare, server_first, without_proof]).encode(),
                   hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    _send_msg(s, b"p", (without_proof + ",p=" + base64.b64encode(proof).decode()).encode())
    t, body = _read_msg(s)
    if t == b"R":
        res.auth.append(struct.unpack("!I", body[:4])[0])   # 12 SASLFinal
        if struct.unpack("!I", body[:4])[0] == 12:
            t, body = _read_msg(s)
    return t, body


def pg_login(srv, user, password, tls=True, send_cleartext=True):
    """Logs in over a raw socket and returns a Login. send_cleartext=False: on a
    cleartext password request, stop there instead of sending the password."""
    res = Login()
    raw = socket.create_connection(("127.0.0.1", srv.pg_port), timeout=15)
    s = raw
    try:
        if tls:
            raw.sendall(struct.pack("!II", 8, SSL_REQUEST))
            ans = _recv_exact(raw, 1)
            assert ans == b"S", "server refused SSLRequest: %r" % ans
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            res.tls = True
        body = struct.pack("!I", 196608)
        for k, v in (("user", user), ("database", "madang")):
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        s.sendall(struct.pack("!I", len(body) + 4) + body)
        while True:
            try:
                t, body = _read_msg(s)
            except (ConnectionError, ssl.SSLError, OSError):
                res.closed = True
                return res
            if t == b"E":
                res.error = _error_fields(body)
                return res
            if t == b"Z":
                res.ok = True
                return res
            if t != b"R":
                continue             # ParameterStatus, BackendKeyData, NoticeResponse, ...
            code = struct.unpack("!I", body[:4])[0]
            res.auth.append(code)
            if code == 0:
                continue
            if code == 3:
                if not send_cleartext:
                    return res
                _send_msg(s, b"p", password.encode() + b"\0")
            elif code == 5:
                salt = body[4:8]
                inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
                _send_msg(s, b"p", b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode() + b"\0")
            elif code == 10:
                t, body = _scram(s, user, password, res)
                if t == b"E":
                    res.error = _error_fields(body)
                    return res
                if t == b"R" and struct.unpack("!I", body[:4])[0] == 0:
                    res.auth.append(0)
                    continue
                if t == b"Z":
                    res.ok = True
                    return res
            else:
                raise AssertionError("unexpected auth request %d" % code)
    finally:
        try:
            s.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- helpers

def connect(srv, user, password, sslmode="require"):
    c = psycopg2.connect(srv.dsn(user, password, sslmode=sslmode, connect_timeout=10))
    c.autocommit = True
    return c


def q(conn, sql, params=None):
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else None


def admin(srv):
    c = getattr(srv, "_admin", None)
    if c is None or c.closed:
        c = srv._admin = connect(srv, "admin", srv.admin_password)
    return c


def aq(srv, sql, params=None):
    return q(admin(srv), sql, params)


def as_list(v):
    """madang.groups.members as a Python list (an array, or its text form)."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [x.strip().strip('"') for x in str(v).strip("{}[]").split(",") if x.strip()]


def groups(srv):
    return {r[0]: {"synced": r[1], "members": as_list(r[2])}
            for r in aq(srv, "SELECT name, synced, members FROM madang.groups")}


def wait_for(pred, timeout, step=0.25, what="condition"):
    deadline = time.time() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.time() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


def select_customers(srv, user, password):
    """count(*) FROM customers as user (fresh TLS login); the SQLSTATE if refused."""
    c = connect(srv, user, password)
    try:
        return ("ok", q(c, "SELECT count(*) FROM customers")[0][0])
    except psycopg2.Error as e:
        return ("error", e.pgcode)
    finally:
        c.close()


def ensure_customers_grant(srv):
    aq(srv, "GRANT SELECT ON customers TO GROUP analysts")


def meta_bytes(srv):
    data = b""
    for p in sorted(glob.glob(os.path.join(srv.data_dir, "meta.db*"))):
        with open(p, "rb") as f:
            data += f.read()
    return data


def write_config(path, ldap, password_file, sync=SYNC_S):
    with open(path, "w") as f:
        f.write("""\
# LDAP login (test_ldap.py)
ldap.url = '{url}'
ldap.bind_dn = '{bind_dn}'
ldap.bind_password_file = '{pwfile}'     # the rootdn password
ldap.user_base = 'ou=people,dc=example,dc=org'
ldap.user_filter = '(uid=%u)'
ldap.group_base = 'ou=groups,dc=example,dc=org'
ldap.group_filter = '(objectClass=groupOfNames)'
ldap.group_member_attribute = 'member'
ldap.sync_interval = {sync}s
""".format(url=ldap.url, bind_dn=ROOT_DN, pwfile=password_file, sync=sync))
    return path


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    d = tmp_path_factory.mktemp("slapd")
    l = LdapServer(d)
    try:
        l.start()
    except (LdapError, OSError) as e:
        pytest.fail("slapd did not start: %s\n--- slapd output ---\n%s" % (e, l.read_log()[-6000:]),
                    pytrace=False)
    yield l
    l.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, ldap):
    d = tmp_path_factory.mktemp("ldap_madang")
    pwfile = d / "ldap_bind.pw"
    pwfile.write_text(ldap.root_password)
    os.chmod(pwfile, 0o600)
    conf = write_config(str(d / "madang.conf"), ldap, str(pwfile))
    s = MadangServer(d / "data", demo=True, extra_args=["--config", conf])
    s.start(timeout=300)
    yield s
    if getattr(s, "_admin", None) is not None:
        s._admin.close()
    rc = s.stop()
    assert rc == 0, "server exit code %s\n%s" % (rc, s.read_log()[-4000:])


# --------------------------------------------------------------------------- tests

def test_slapd_answers(ldap):
    """The fixture itself: users bind with their password, groups are seeded."""
    for uid, pw in PASSWORDS.items():
        assert ldap.bind_ok(uid, pw), uid
    assert not ldap.bind_ok("alice", WRONG_PW)
    assert ldap.members("analysts") == ["alice", "bob"]
    assert ldap.members("auditors_ldap") == ["carol"]


def test_ldap_login_over_tls(srv):
    c = connect(srv, "alice", PASSWORDS["alice"], sslmode="require")
    try:
        assert q(c, "SELECT current_user") == [("alice",)]
    finally:
        c.close()
    r = pg_login(srv, "alice", PASSWORDS["alice"], tls=True)
    assert r.ok, r


def test_ldap_login_refused_without_tls(srv, ldap):
    # alice has a madang record by now (first login above); dave has never logged in
    ldap.add_user("dave", "dave-ldap-pw", groups=["analysts"])
    try:
        for user, pw in (("alice", PASSWORDS["alice"]), ("dave", "dave-ldap-pw")):
            r = pg_login(srv, user, pw, tls=False)
            assert not r.ok, r
            assert r.code in ("28000", "08P01", "28P01"), r
            assert re.search(r"TLS|SSL", r.message, re.I), r
        # and through libpq (only dave: every refusal counts towards alice's lockout)
        with pytest.raises(psycopg2.OperationalError) as ei:
            connect(srv, "dave", "dave-ldap-pw", sslmode="disable")
        assert re.search(r"TLS|SSL", str(ei.value), re.I), str(ei.value)
    finally:
        ldap.remove_member("analysts", "dave")
        ldap.delete_user("dave")


def test_no_cleartext_password_request_without_tls(srv):
    """Beyond the letter of the spec: over plain TCP the server must not even ask for the
    cleartext password (a client would send the LDAP password unencrypted)."""
    r = pg_login(srv, "alice", PASSWORDS["alice"], tls=False, send_cleartext=False)
    assert 3 not in r.auth, "server asked for a cleartext password over plain TCP: %r" % r
    assert not r.ok, r


def test_first_login_creates_user(srv):
    connect(srv, "alice", PASSWORDS["alice"]).close()
    names = [r[0] for r in aq(srv, "SELECT name FROM madang.users")]
    assert "alice" in names, names
    assert "admin" in names, names


def test_ldap_groups_become_synced_groups(srv):
    connect(srv, "alice", PASSWORDS["alice"]).close()

    def listed():
        g = groups(srv)
        return g if "alice" in g.get("analysts", {}).get("members", []) else None

    g = wait_for(listed, 3 * SYNC_S, what="analysts to list alice")
    assert g["analysts"]["synced"] is True, g
    assert "alice" in g["analysts"]["members"], g


def test_local_group_taken_over_keeps_only_directory_members(srv):
    # the demo's local group "analysts" (member: the local user "analyst") has
    # the name of an LDAP group: once synced, the directory decides who is in it
    connect(srv, "alice", PASSWORDS["alice"]).close()
    g = wait_for(lambda: groups(srv) if "alice" in groups(srv).get("analysts", {}).get("members", []) else None,
                 3 * SYNC_S, what="analysts to list alice")
    assert g["analysts"]["synced"] is True
    assert "analyst" not in g["analysts"]["members"], g


def test_grant_to_synced_group_applies(srv):
    ensure_customers_grant(srv)
    n = aq(srv, "SELECT count(*) FROM customers")[0][0]
    assert select_customers(srv, "alice", PASSWORDS["alice"]) == ("ok", n)
    assert select_customers(srv, "carol", PASSWORDS["carol"]) == ("error", "42501")


def test_local_change_to_synced_group_refused(srv):
    connect(srv, "alice", PASSWORDS["alice"]).close()
    wait_for(lambda: groups(srv)["analysts"]["synced"] is True, 3 * SYNC_S, what="analysts to be synced")
    for sql in ("ALTER GROUP analysts ADD USER admin", "ALTER GROUP analysts DROP USER alice"):
        with pytest.raises(psycopg2.Error) as ei:
            aq(srv, sql)
        assert re.search(r"ldap|synced|synchroni", str(ei.value), re.I), (sql, str(ei.value))
        assert ei.value.pgcode == "42501", ei.value.pgcode
    g = groups(srv)["analysts"]
    assert "admin" not in g["members"] and "alice" in g["members"], g
    assert g["synced"] is True, g


def test_wrong_password_28P01_and_audited(srv):
    r = pg_login(srv, "alice", WRONG_PW, tls=True)
    assert not r.ok and r.code == "28P01", r
    pat = re.compile(r"event=login_failed\b.*user=\"alice\"")
    wait_for(lambda: any(pat.search(l) for l in srv.read_log().splitlines()), 5,
             what="a login_failed line for alice in the log")
    assert WRONG_PW not in srv.read_log()
    # a good login afterwards still works (and clears the failure count)
    r = pg_login(srv, "alice", PASSWORDS["alice"], tls=True)
    assert r.ok, r


def test_local_scram_users_still_work(srv):
    for sslmode in ("disable", "require"):
        c = connect(srv, "admin", srv.admin_password, sslmode=sslmode)
        assert q(c, "SELECT current_user") == [("admin",)]
        c.close()
    r = pg_login(srv, "admin", srv.admin_password, tls=False)
    assert r.ok and 10 in r.auth and 3 not in r.auth, r
    # the demo's local (non-LDAP) user
    c = connect(srv, "support", "support-demo", sslmode="disable")
    assert q(c, "SELECT current_user") == [("support",)]
    c.close()
    r = pg_login(srv, "admin", "not-the-admin-pw", tls=True)
    assert not r.ok and r.code == "28P01", r


def test_unknown_user_28P01(srv):
    r = pg_login(srv, "nobody_ldap_zz", "whatever-pw", tls=True)
    assert not r.ok and r.code == "28P01", r
    names = [x[0] for x in aq(srv, "SELECT name FROM madang.users")]
    assert "nobody_ldap_zz" not in names


def test_ldap_member_removal_revokes_at_next_sync(srv, ldap):
    ensure_customers_grant(srv)
    n = aq(srv, "SELECT count(*) FROM customers")[0][0]
    assert select_customers(srv, "alice", PASSWORDS["alice"]) == ("ok", n)
    assert select_customers(srv, "bob", PASSWORDS["bob"]) == ("ok", n)
    assert "bob" in groups(srv)["analysts"]["members"]
    ldap.remove_member("analysts", "bob")
    try:
        # the background sync drops him (bob does not log in meanwhile)
        t0 = time.time()
        wait_for(lambda: "bob" not in groups(srv)["analysts"]["members"], 10, step=0.2,
                 what="the sync to drop bob from analysts")
        print("bob left analysts after %.1fs" % (time.time() - t0))
        g = groups(srv)["analysts"]
        assert g["synced"] is True and "alice" in g["members"], g
        assert select_customers(srv, "bob", PASSWORDS["bob"]) == ("error", "42501")
    finally:
        ldap.add_member("analysts", "bob")


def test_ldap_deleted_user_cannot_log_in(srv, ldap):
    r = pg_login(srv, "carol", PASSWORDS["carol"], tls=True)
    assert r.ok, r
    assert "carol" in [x[0] for x in aq(srv, "SELECT name FROM madang.users")]
    ldap.delete_user("carol")
    try:
        wait_for(lambda: not pg_login(srv, "carol", PASSWORDS["carol"], tls=True).ok, 10, step=0.5,
                 what="carol's login to fail")
        time.sleep(SYNC_S + 0.5)     # after a further sync it still fails
        r = pg_login(srv, "carol", PASSWORDS["carol"], tls=True)
        assert not r.ok, r
        assert r.code in ("28P01", "28000"), r
        with pytest.raises(psycopg2.OperationalError):
            connect(srv, "carol", PASSWORDS["carol"])
    finally:
        # back in the directory; the dangling member value puts her in auditors_ldap again
        ldap.add_user("carol", PASSWORDS["carol"])


def test_ldap_passwords_never_stored_or_logged(srv, ldap):
    # every LDAP user has logged in by now (carol before her deletion); once more for the
    # two still unlocked
    for u in ("alice", "bob"):
        r = pg_login(srv, u, PASSWORDS[u], tls=True)
        assert r.ok, (u, r)
    secrets = list(PASSWORDS.values()) + [WRONG_PW, ldap.root_password]
    log = srv.read_log()
    users = repr(aq(srv, "SELECT * FROM madang.users"))
    meta = meta_bytes(srv)
    assert meta, "no meta.db under %s" % srv.data_dir
    for s in secrets:
        assert s not in log, "%r in the server log" % s
        assert s not in users, "%r in madang.users" % s
        assert s.encode() not in meta, "%r in meta.db" % s


def test_bind_password_file_with_trailing_newline(tmp_path, ldap):
    """Beyond the spec: a password file written with `echo pw > file` ends in a newline."""
    pwfile = tmp_path / "bind.pw"
    pwfile.write_text(ldap.root_password + "\n")
    conf = write_config(str(tmp_path / "madang.conf"), ldap, str(pwfile))
    s = MadangServer(tmp_path / "data", extra_args=["--config", conf]).start()
    try:
        r = pg_login(s, "alice", PASSWORDS["alice"], tls=True)
        assert r.ok, (r, s.read_log()[-3000:])
    finally:
        s.stop()
