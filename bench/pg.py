"""A private PostgreSQL 15 server for the benchmarks: Debian's binaries, a
fresh cluster in a temp dir (initdb as the postgres user: it refuses root),
listening on a free loopback port, trust authentication on loopback only."""
import os
import shutil
import subprocess
import time

PGBIN = "/usr/lib/postgresql/15/bin"

# Memory settings a data team would give a dedicated 24 GB machine; durability
# settings do not matter for these read benchmarks and speed up the load.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "4GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "16GB",
    "max_parallel_workers_per_gather": "2",
    "max_connections": "50",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, tmpdir):
        self.dir = os.path.join(tmpdir, "pg")
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(tmpdir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()

    def run_as_pg(self, args, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + args, check=True, capture_output=True,
                              text=True, **kw)

    def start(self):
        self.run_as_pg([PGBIN + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C"])
        opts = " ".join("-c %s=%s" % kv for kv in SETTINGS.items())
        self.run_as_pg([PGBIN + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "120",
                        "-o", "-p %d -k %s %s" % (self.port, self.dir, opts), "start"])
        return self

    def version(self):
        return self.run_as_pg([PGBIN + "/postgres", "--version"]).stdout.strip()

    def pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def dsn(self):
        return "host=127.0.0.1 port=%d dbname=postgres user=postgres" % self.port

    def psql(self, sql=None, file=None):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U",
               "postgres", "-d", "postgres"]
        cmd += ["-f", file] if file else ["-c", sql]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=3600)

    def stop(self):
        try:
            self.run_as_pg([PGBIN + "/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
