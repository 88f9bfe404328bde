"""tests/support/write_audit.py sees writes (and only writes) of a traced process tree."""

from __future__ import annotations

import subprocess
import sys

from tests.support.write_audit import outside, traced_cli, written_paths


def test_writes_are_seen_reads_are_not_and_outside_is_reported(tmp_path):
    allowed, other, bin_dir = tmp_path / "allowed", tmp_path / "other", tmp_path / "bin"
    for d in (allowed, other, bin_dir):
        d.mkdir()
    (other / "read-me").write_text("x")
    script = tmp_path / "writer.py"
    script.write_text(
        "import os, subprocess, sys\n"
        f"open({str(allowed / 'a.txt')!r}, 'w').write('1')\n"
        f"open({str(other / 'read-me')!r}).read()\n"
        f"os.mkdir({str(other / 'newdir')!r})\n"
        # a child process (strace -f follows it)
        f"child = 'open(' + repr({str(other / 'child.txt')!r}) + ', \"a\").write(\"2\")'\n"
        "subprocess.run([sys.executable, '-c', child], check=True)\n"
        "open('relative.txt', 'w').write('3')\n"
    )
    log = tmp_path / "trace.log"
    wrapper = traced_cli(sys.executable, log, bin_dir)
    subprocess.run([wrapper, str(script)], check=True, cwd=allowed)
    writes = written_paths(log)
    paths = {p for _, p in writes}
    assert str(allowed / "a.txt") in paths and str(other / "newdir") in paths and str(other / "child.txt") in paths
    assert "relative.txt" in paths
    assert str(other / "read-me") not in paths
    bad = outside(writes, allowed, [allowed])
    assert sorted(p for _, p in bad) == sorted([str(other / "newdir"), str(other / "child.txt")])
