"""The test bed itself: containers boot a real systemd, answer real OpenSSH with the generated
host key only, and the deploy user has passwordless sudo."""

from __future__ import annotations

import subprocess

from tests.support.systemd_bed import DEPLOY_USER, private_tempdir, write_known_hosts


def test_every_host_boots_systemd_and_answers_ssh_with_its_pinned_key(systemd_bed):
    for h in systemd_bed.hosts:
        out = h.ssh("systemctl is-system-running; ps -o comm= -p 1; id -un; sudo -n id -u; hostname").stdout.split()
        assert out == ["running", "systemd", DEPLOY_USER, "0", h.name], (h.name, out, systemd_bed.console(h))


def test_name_resolution_stays_on_loopback(systemd_bed):
    for h in systemd_bed.hosts:
        assert h.ssh("grep -v '^#' /etc/resolv.conf").stdout.split() == ["nameserver", "127.0.0.1"]


def test_a_wrong_host_key_is_refused(systemd_bed):
    a, b = systemd_bed.hosts[0], systemd_bed.hosts[1]
    d = private_tempdir()
    wrong = f"{d}/known_hosts"
    # b's key pinned for a's address: the client must refuse before authenticating
    write_known_hosts(__import__("pathlib").Path(wrong), a.address, a.port, b.host_key_line)
    proc = subprocess.run([*a.ssh_argv(known_hosts=wrong), "--", "echo reached"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 255 and "reached" not in proc.stdout
    assert "HOST IDENTIFICATION HAS CHANGED" in proc.stderr or "Host key verification failed" in proc.stderr, proc.stderr
    # and an unknown host (empty known_hosts) is refused under StrictHostKeyChecking=yes
    open(wrong, "w").close()
    proc = subprocess.run([*a.ssh_argv(known_hosts=wrong), "--", "echo reached"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 255 and "Host key verification failed" in proc.stderr, proc.stderr


def test_unit_directives_are_enforced(systemd_bed):
    h = systemd_bed.hosts[0]
    proc = h.sudo("systemd-run --wait --quiet --pipe --collect -p ProtectSystem=strict touch /usr/bed-probe", check=False)
    assert proc.returncode != 0 and "Read-only file system" in proc.stdout + proc.stderr, proc
    assert h.sudo("test ! -e /usr/bed-probe && echo absent").stdout.strip() == "absent"


def test_the_clashing_services_are_masked(systemd_bed):
    for h in systemd_bed.hosts:
        failed = h.ssh("systemctl --failed --no-legend --plain").stdout.strip()
        assert failed == "", (h.name, failed)
        assert h.ssh("systemctl is-enabled postgresql.service redis-server.service", check=False).stdout.split() == ["masked", "masked"]
    door = systemd_bed.host("door")
    assert door.ssh("systemctl is-enabled haproxy.service").stdout.strip() == "enabled"
