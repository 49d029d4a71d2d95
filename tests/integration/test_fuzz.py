"""Builds the wire-protocol fuzzer (tests/fuzz/fuzz_codec.c) and runs it: first
over the committed corpus (every seed must pass), then 20 s of fresh fuzzing.
A crash, sanitizer report, leak or timeout makes libFuzzer exit non-zero; the
reproducer is written under the pytest tmp dir and named in the failure.

Needs clang with libFuzzer (-fsanitize=fuzzer); skipped when clang is absent."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
BIN = os.path.join(ROOT, "build", "fuzz", "fuzz_codec")
# The Makefile's `fuzz` recipe plus the other socket-free parsers the target
# drives (lex.c, copy.c). copy.c needs duckdb.h (header only); the target stubs
# the three engine symbols copy.c's encoder references.
SOURCES = ["tests/fuzz/fuzz_codec.c", "src/pgwire/codec.c", "src/gate/lex.c", "src/pgwire/copy.c",
           "src/util/util.c"]
FLAGS = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-D_GNU_SOURCE", "-Isrc", "-Ithird_party/duckdb"]


def tail(r):
    return (r.stdout or "")[-3000:] + (r.stderr or "")[-6000:]


@pytest.fixture(scope="module")
def fuzzer():
    clang = shutil.which("clang")
    if not clang:
        pytest.skip("clang not installed")
    if not os.path.exists(os.path.join(ROOT, "third_party", "duckdb", "duckdb.h")):
        pytest.skip("third_party/duckdb/duckdb.h missing (run scripts/deps)")
    os.makedirs(os.path.dirname(BIN), exist_ok=True)
    tmp = BIN + ".%d.tmp" % os.getpid()
    r = subprocess.run([clang] + FLAGS + ["-o", tmp] + SOURCES, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, "fuzzer build failed:\n" + tail(r)
    os.replace(tmp, BIN)  # atomic: a concurrent `make fuzz` never sees half a binary
    return BIN


def run(args, tmp_path, timeout):
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    return subprocess.run(args + ["-artifact_prefix=%s/" % tmp_path], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_corpus_replays_clean(fuzzer, tmp_path):
    seeds = os.listdir(CORPUS)
    assert len(seeds) >= 20, "seed corpus went missing"
    r = run([fuzzer, "-runs=0", "-max_len=4096", CORPUS], tmp_path, timeout=30)
    assert r.returncode == 0, "a corpus input fails:\n" + tail(r)


def test_fuzz_20s(fuzzer, tmp_path):
    new = tmp_path / "new"  # fresh finds stay out of the committed corpus
    new.mkdir()
    r = run([fuzzer, "-max_total_time=20", "-max_len=4096", "-timeout=10", "-rss_limit_mb=2048", str(new), CORPUS],
            tmp_path, timeout=50)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert r.returncode == 0, "fuzzer found a failure (%s):\n%s" % (", ".join(crashes), tail(r))
    assert "Done" in r.stderr, tail(r)
