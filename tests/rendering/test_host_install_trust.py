"""Install and layout trust rules, run for real on this machine (as root, with unique names):

- layout never modifies an account it did not create (root, an existing foreign account, a foreign
  group), and manages its own account across re-runs;
- the Python check refuses < 3.10 (LiteLLM's Requires-Python);
- the committed hashed lock: every entry pinned with hashes, covering exactly the top-level pins,
  and pip in --require-hashes --only-binary mode accepts its hashes for real PyPI files and refuses
  a tampered one.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from config.litellm_locks import lock_file, lock_text, locked_versions
from config.litellm_settings import PINNED_LITELLM_VERSION
from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs

REGISTRY = Path(hs.ACCOUNT_REGISTRY)
ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, user: str):
    dev = load_stack_inputs("dev").settings()
    litellm = {**dev.litellm.model_dump(), "system_user": user, "install_dir": str(tmp_path / "opt"),
               "config_dir": str(tmp_path / "etc")}
    if user == "root":  # refused by validation already; the script must refuse it on its own too
        s = _settings(tmp_path, "litellm")
        return s.model_copy(update={"litellm": s.litellm.model_copy(update={"system_user": "root"})})
    return load_stack_inputs(
        "dev", overrides={"litellm": litellm, "tls": {"enabled": False, "allow_plaintext": True}}
    ).settings()


def _layout(settings) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", hs.layout_script(settings)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def account_name():
    name = f"llmgw{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)
    for suffix in ("", ".group"):
        (REGISTRY / f"{name}{suffix}").unlink(missing_ok=True)


@pytest.mark.slow
def test_layout_creates_records_and_reuses_its_own_account(tmp_path, account_name):
    s = _settings(tmp_path, account_name)
    first = _layout(s)
    assert first.returncode == 0, first.stderr
    entry = pwd.getpwnam(account_name)
    assert entry.pw_dir == str(tmp_path / "opt" / "home") and entry.pw_gecos == "litellm-gateway service account"
    assert (REGISTRY / account_name).read_text().strip() == str(entry.pw_uid)
    prisma_home = tmp_path / "opt" / "prisma"
    assert prisma_home.stat().st_uid == 0 and oct(prisma_home.stat().st_mode & 0o777) == "0o755"
    # a new install_dir: its own account's home follows (the only usermod there is)
    s2 = _settings(tmp_path / "moved", account_name)
    (tmp_path / "moved").mkdir()
    again = _layout(s2)
    assert again.returncode == 0, again.stderr
    assert pwd.getpwnam(account_name).pw_dir == str(tmp_path / "moved" / "opt" / "home")


@pytest.mark.slow
def test_layout_refuses_a_foreign_account_and_leaves_it_alone(tmp_path, account_name):
    subprocess.run(["useradd", "--system", "--home-dir", "/nonexistent-foreign", "--no-create-home", account_name], check=True)
    before = pwd.getpwnam(account_name)
    result = _layout(_settings(tmp_path, account_name))
    assert result.returncode == 1
    assert f"refusing to use the account {account_name} (litellm.system_user)" in result.stderr
    assert "was not created by litellm-gateway" in result.stderr
    assert pwd.getpwnam(account_name) == before
    assert not (tmp_path / "opt").exists()


@pytest.mark.slow
def test_layout_refuses_a_foreign_group(tmp_path, account_name):
    subprocess.run(["groupadd", "--system", account_name], check=True)
    result = _layout(_settings(tmp_path, account_name))
    assert result.returncode == 1 and "a group of that name exists" in result.stderr
    with pytest.raises(KeyError):
        pwd.getpwnam(account_name)


@pytest.mark.slow
def test_layout_refuses_root(tmp_path):
    result = _layout(_settings(tmp_path, "root"))
    assert result.returncode == 1 and "it is root" in result.stderr
    assert pwd.getpwnam("root").pw_dir == "/root"


def _fake_python(tmp_path: Path, version: tuple[int, int, int]) -> Path:
    """A `python3` that is this interpreter claiming another version (for the host check only)."""
    bindir = tmp_path / f"py{version[0]}{version[1]}"
    bindir.mkdir()
    fake = bindir / "python3"
    fake.write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = -V ]; then echo "Python {".".join(map(str, version))}"; exit 0; fi\n'
        f'exec {sys.executable} -c "import sys; sys.version_info = {version + ("final", 0)!r}; '
        'exec(compile(sys.argv[1], \'<c>\', \'exec\'))" "$2"\n'
    )
    fake.chmod(0o755)
    return bindir


@pytest.mark.slow
@pytest.mark.parametrize("version,ok", [((3, 9, 18), False), ((3, 10, 0), True), ((3, 11, 7), True), ((3, 15, 0), False)])
def test_python_check_follows_litellms_requires_python(tmp_path, version, ok):
    script = hs.install_script(_settings(tmp_path, "litellm"))
    check = script[: script.index('tmp=$(mktemp "$REQUIREMENTS')] + "echo CHECK-PASSED\n"
    env = {"PATH": f"{_fake_python(tmp_path, version)}:/usr/bin:/bin"}
    result = subprocess.run(["bash", "-c", check], capture_output=True, text=True, env=env, timeout=60)
    assert (result.returncode == 0 and "CHECK-PASSED" in result.stdout) is ok, result.stderr
    if not ok:
        assert "python3 >= 3.10 and < 3.15" in result.stderr and "Python " + ".".join(map(str, version)) in result.stderr


def _lock_entries(text: str) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+) \\$", line)
        if m:
            current = m.group(1).lower()
            entries[current] = []
        elif current and (h := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line)):
            entries[current].append(h.group(1))
    return entries


def test_every_lock_pins_every_distribution_with_hashes_and_matches_the_top_level_pins():
    pins = dict(re.findall(r"^([a-z0-9-]+)(?:\[[a-z]+\])?==(\S+)$", (ROOT / "requirements-host.in").read_text(), re.M))
    assert "litellm" not in pins and {"prisma", "langfuse"} <= set(pins)  # the release comes from the lock's name
    versions = locked_versions()
    assert PINNED_LITELLM_VERSION in versions
    for v in versions:
        text = lock_text(v)
        entries = _lock_entries(text)
        assert len(entries) > 100, v
        assert all(hashes for hashes in entries.values()), (v, [n for n, h in entries.items() if not h])
        for name, version in {**pins, "litellm": v}.items():
            assert re.search(rf"^{re.escape(name)}=={re.escape(version)} ", text, re.M), (v, name)
    # what the host runs: the dev stack's release's lock, hash-checked, wheels only
    dev = load_stack_inputs("dev").settings()
    script = hs.install_script(dev)
    assert '--require-hashes --only-binary=:all: -r "$LOCK"' in script
    assert hs.install_stdin(dev) == lock_text(dev.litellm.version) == lock_file(PINNED_LITELLM_VERSION).read_text()


@pytest.mark.slow
def test_pip_accepts_the_locks_hashes_and_refuses_a_tampered_one(tmp_path):
    text = lock_text(PINNED_LITELLM_VERSION)
    block = re.search(r"^litellm-enterprise==\S+ \\\n(?:\s+--hash=\S+(?: \\)?\n)+", text, re.M).group(0)
    good = tmp_path / "good.txt"
    good.write_text(block)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary=:all:",
           "--index-url", "https://pypi.org/simple", "-d", str(tmp_path / "dl"), "-r"]
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1"}
    ok = subprocess.run([*cmd, str(good)], capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = tmp_path / "bad.txt"
    digest = re.search(r"sha256:([0-9a-f]{64})", block).group(1)
    bad.write_text(block.replace(digest, ("0" if digest[0] != "0" else "1") + digest[1:]))
    refused = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode != 0 and "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr


def test_ssh_deploy_refuses_a_version_without_a_lock():
    dev = load_stack_inputs("dev").settings()
    # the config check refuses it first (tests/config/test_litellm_locks.py); the renderer refuses
    # settings that bypassed it too
    other = dev.model_copy(update={"litellm": dev.litellm.model_copy(update={"version": "1.108.3"})})
    with pytest.raises(ValueError, match=r"^stack 'dev': litellm-gateway:litellm.version: LiteLLM 1.108.3 has no hashed lock "
                       r"\(locks/litellm-1.108.3.lock\); expected one of the releases with a lock: "):
        hs.install_script(other)
