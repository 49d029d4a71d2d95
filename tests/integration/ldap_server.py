"""A real OpenLDAP slapd for the LDAP login tests, started on 127.0.0.1 at a free port.

Everything lives in one temporary directory: a cn=config tree (slapd.d) generated with
`slapadd -n0`, an mdb database for dc=example,dc=org seeded offline with `slapadd -n1`,
and slapd's own output (slapd.log). Changes while it runs go through the ldap-utils
clients (ldapadd / ldapmodify / ldapdelete) bound as the rootdn.

    ldap = LdapServer(tmp_dir).start()
    ldap.url                      # ldap://127.0.0.1:PORT
    ldap.add_user("dave", "dave-pw"); ldap.add_member("analysts", "dave")
    ldap.remove_member("analysts", "dave"); ldap.delete_user("dave")
    ldap.stop()

Seed: ou=people with alice, bob, carol (inetOrgPerson, passwords '<uid>-ldap-pw');
ou=groups with groupOfNames analysts (alice, bob) and auditors_ldap (carol).
"""
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"

SUFFIX = "dc=example,dc=org"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PASSWORD = "ldap-admin-secret"
PEOPLE = "ou=people," + SUFFIX
GROUPS = "ou=groups," + SUFFIX

SEED_USERS = {"alice": "alice-ldap-pw", "bob": "bob-ldap-pw", "carol": "carol-ldap-pw"}
SEED_GROUPS = {"analysts": ["alice", "bob"], "auditors_ldap": ["carol"]}


class LdapError(RuntimeError):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssha(password, salt=None):
    """{SSHA} userPassword value (what slappasswd -h {SSHA} makes)."""
    salt = salt or os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def user_dn(uid):
    return "uid=%s,%s" % (uid, PEOPLE)


def group_dn(name):
    return "cn=%s,%s" % (name, GROUPS)


def user_ldif(uid, password, cn=None, sn=None, mail=None):
    lines = ["dn: " + user_dn(uid),
             "objectClass: inetOrgPerson",
             "uid: " + uid,
             "cn: " + (cn or uid.capitalize()),
             "sn: " + (sn or uid.capitalize())]
    if mail:
        lines.append("mail: " + mail)
    if password is not None:
        lines.append("userPassword: " + ssha(password))
    return "\n".join(lines) + "\n"


def group_ldif(name, members):
    if not members:
        raise ValueError("groupOfNames needs at least one member")
    lines = ["dn: " + group_dn(name), "objectClass: groupOfNames", "cn: " + name]
    lines += ["member: " + user_dn(m) for m in members]
    return "\n".join(lines) + "\n"


class LdapServer:
    def __init__(self, base_dir, root_password=ROOT_PASSWORD, users=None, groups=None):
        self.dir = os.path.abspath(str(base_dir))
        self.root_dn = ROOT_DN
        self.root_password = root_password
        self.suffix = SUFFIX
        self.people_base = PEOPLE
        self.group_base = GROUPS
        self.users = dict(SEED_USERS if users is None else users)
        self.groups = {k: list(v) for k, v in (SEED_GROUPS if groups is None else groups).items()}
        self.conf_dir = os.path.join(self.dir, "slapd.d")
        self.db_dir = os.path.join(self.dir, "db")
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.port = None
        self.proc = None
        self._log = None

    # ------------------------------------------------------------------ set-up

    def _config_ldif(self):
        schemas = "\n".join("include: file://%s/%s.ldif" % (SCHEMA_DIR, s)
                            for s in ("core", "cosine", "inetorgperson", "nis"))
        return """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid
olcArgsFile: {dir}/slapd.args
olcLogLevel: stats

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {modules}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcRootDN: {rootdn}
olcRootPW: {rootpw}
olcDbDirectory: {db}
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: cn eq
olcDbIndex: member eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
""".format(dir=self.dir, modules=MODULE_DIR, schemas=schemas, suffix=SUFFIX, rootdn=ROOT_DN,
           rootpw=ssha(self.root_password), db=self.db_dir)

    def _seed_ldif(self):
        parts = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n" % SUFFIX,
                 "dn: %s\nobjectClass: organizationalUnit\nou: people\n" % PEOPLE,
                 "dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS]
        parts += [user_ldif(u, pw) for u, pw in self.users.items()]
        parts += [group_ldif(g, m) for g, m in self.groups.items()]
        return "\n".join(parts)

    def _run(self, cmd, input=None, timeout=30):
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise LdapError("%s failed (%d):\nstdout: %s\nstderr: %s\ninput:\n%s"
                            % (" ".join(cmd), r.returncode, r.stdout, r.stderr, input or ""))
        return r

    def _build(self):
        shutil.rmtree(self.conf_dir, ignore_errors=True)
        shutil.rmtree(self.db_dir, ignore_errors=True)
        os.makedirs(self.conf_dir)
        os.makedirs(self.db_dir)
        cfg = os.path.join(self.dir, "config.ldif")
        with open(cfg, "w") as f:
            f.write(self._config_ldif())
        seed = os.path.join(self.dir, "seed.ldif")
        with open(seed, "w") as f:
            f.write(self._seed_ldif())
        self._run([SLAPADD, "-n0", "-F", self.conf_dir, "-l", cfg])
        self._run([SLAPADD, "-n1", "-F", self.conf_dir, "-l", seed])

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self):
        return "ldap://127.0.0.1:%d" % self.port

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _answers(self):
        r = subprocess.run(["ldapwhoami", "-x", "-H", self.url, "-D", self.root_dn, "-w", self.root_password,
                            "-o", "nettimeout=2"],
                           capture_output=True, text=True, timeout=3)
        return r.returncode == 0 and ("dn:" + self.root_dn) in r.stdout

    def start(self, timeout=30):
        os.makedirs(self.dir, exist_ok=True)
        self._build()
        last = ""
        for _attempt in range(3):      # a free port can be taken between probe and bind: retry
            self.port = _free_port()
            self._log = open(self.log_path, "ab")
            # -d: stay in the foreground (we own the process) and log to stderr
            self.proc = subprocess.Popen([SLAPD, "-d", "stats", "-F", self.conf_dir,
                                          "-h", "ldap://127.0.0.1:%d/" % self.port],
                                         stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self._answers():
                        return self
                except subprocess.TimeoutExpired:
                    pass
                time.sleep(0.1)
            last = self.read_log()
            self.stop()
            if "Address already in use" not in last:
                break
        raise LdapError("slapd did not start (exit %s):\n%s"
                        % (self.proc.returncode if self.proc else None, last[-6000:]))

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ clients

    def _auth(self):
        return ["-x", "-H", self.url, "-D", self.root_dn, "-w", self.root_password]

    def ldapadd(self, ldif):
        return self._run(["ldapadd"] + self._auth(), input=ldif)

    def ldapmodify(self, ldif):
        return self._run(["ldapmodify"] + self._auth(), input=ldif)

    def ldapdelete(self, dn):
        return self._run(["ldapdelete"] + self._auth() + [dn])

    def search(self, base, filt="(objectClass=*)", attrs=(), scope="sub"):
        """ldapsearch as the rootdn; returns {dn: {attr: [values]}} (LDIF unwrapped, no base64)."""
        r = self._run(["ldapsearch", "-LLL", "-o", "ldif-wrap=no"] + self._auth()
                      + ["-b", base, "-s", scope, filt] + list(attrs))
        out, dn = {}, None
        for line in r.stdout.splitlines():
            if not line.strip():
                dn = None
                continue
            k, _, v = line.partition(": ")
            if k == "dn":
                dn = v
                out[dn] = {}
            elif dn is not None:
                out[dn].setdefault(k, []).append(v)
        return out

    def whoami(self, dn, password):
        """True if a simple bind as dn/password succeeds."""
        r = subprocess.run(["ldapwhoami", "-x", "-H", self.url, "-D", dn, "-w", password],
                           capture_output=True, text=True, timeout=10)
        return r.returncode == 0

    def bind_ok(self, uid, password):
        return self.whoami(user_dn(uid), password)

    def add_user(self, uid, password, cn=None, sn=None, mail=None, groups=()):
        self.ldapadd(user_ldif(uid, password, cn=cn, sn=sn, mail=mail))
        self.users[uid] = password
        for g in groups:
            self.add_member(g, uid)

    def set_password(self, uid, password):
        self.ldapmodify("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n"
                        % (user_dn(uid), ssha(password)))
        self.users[uid] = password

    def delete_user(self, uid):
        """Deletes the entry only (no refint overlay): groups keep a dangling member value,
        as in a real directory without referential integrity."""
        self.ldapdelete(user_dn(uid))
        self.users.pop(uid, None)

    def add_group(self, name, members):
        self.ldapadd(group_ldif(name, members))
        self.groups[name] = list(members)

    def delete_group(self, name):
        self.ldapdelete(group_dn(name))
        self.groups.pop(name, None)

    def add_member(self, group, uid):
        self.ldapmodify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" % (group_dn(group), user_dn(uid)))
        self.groups.setdefault(group, []).append(uid)

    def remove_member(self, group, uid):
        """Fails (objectClassViolation) if uid is the group's last member: groupOfNames
        requires one."""
        self.ldapmodify("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n"
                        % (group_dn(group), user_dn(uid)))
        if uid in self.groups.get(group, []):
            self.groups[group].remove(uid)

    def members(self, group):
        e = self.search(group_dn(group), scope="base", attrs=["member"])
        return sorted(v.split(",", 1)[0].split("=", 1)[1] for v in e.get(group_dn(group), {}).get("member", []))
