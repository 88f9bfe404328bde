"""Fixtures: a fresh admin-API emulator per test, and the provider settings pointing at it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.litellm_admin import connection
from components.litellm_admin.client import AdminEndpoint

MASTER_KEY = "sk-master-test-7f3a9c2e51b84d06"
# Short client timeout so the "slow" fault can outlast it; tiny backoff so retries do not sleep.
CLIENT_TIMEOUT_SECONDS = 1.0
BACKOFF_SECONDS = 0.01


@pytest.fixture
def emulator():
    from tests.support.admin_emulator import AdminEmulator

    with AdminEmulator(master_key=MASTER_KEY) as running:
        yield running


@pytest.fixture
def endpoint(emulator) -> AdminEndpoint:
    return AdminEndpoint(
        base_url=emulator.base_url,
        master_key=emulator.master_key,
        timeout=CLIENT_TIMEOUT_SECONDS,
        backoff_seconds=BACKOFF_SECONDS,
    )


@dataclass(frozen=True)
class CaFiles:
    """A CA and a server certificate it signed for 127.0.0.1 / localhost, as files and PEM text."""

    ca_pem: str
    chain_file: str
    key_file: str


def make_tls_files(directory: Path, *, ip_addresses=("127.0.0.1",), dns_names=("localhost",), ca_name="Admin Test CA") -> CaFiles:
    from tests.support.tls_material import (
        CertSpec,
        DeclaredCertificate,
        KeySpec,
        build_material,
        make_test_ca,
        write_material,
    )

    ca_pem, ca_key_pem = make_test_ca(ca_name)
    server = CertSpec(
        subject={"commonName": (list(dns_names) or list(ip_addresses))[0], "organization": "test"},
        dns_names=list(dns_names),
        ip_addresses=list(ip_addresses),
        allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
        validity_hours=24,
        early_renewal_hours=1,
        is_ca=False,
        key=KeySpec(algorithm="ECDSA", ecdsa_curve="P256"),
    )
    material = build_material(DeclaredCertificate(server=server, ca=None, ca_cert_pem=ca_pem, ca_private_key_pem=ca_key_pem))
    files = write_material(material, directory)
    return CaFiles(ca_pem=material.ca_cert_pem, chain_file=str(files.chain), key_file=str(files.key))


@pytest.fixture
def stack_ca(tmp_path) -> CaFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def tls_emulator(stack_ca):
    """The emulator over HTTPS on 127.0.0.1, with a certificate signed by `stack_ca`."""
    from tests.support.admin_emulator import AdminEmulator

    with AdminEmulator(master_key=MASTER_KEY, tls_files=(stack_ca.chain_file, stack_ca.key_file)) as running:
        assert running.base_url.startswith("https://127.0.0.1:")
        yield running


@pytest.fixture
def admin_env(emulator, monkeypatch):
    """The providers reach the emulator through the environment (the configure() path is tested apart)."""
    connection.forget_stack_config()
    monkeypatch.setenv(connection.ADMIN_URL_ENV, emulator.base_url)
    monkeypatch.setenv(connection.MASTER_KEY_ENV, emulator.master_key)
    monkeypatch.setenv(connection.TIMEOUT_ENV, str(CLIENT_TIMEOUT_SECONDS))
    monkeypatch.setenv(connection.BACKOFF_ENV, str(BACKOFF_SECONDS))
    yield emulator
    connection.forget_stack_config()


def wait_until_all_requests_answered(emulator, deadline_seconds: float = 20.0) -> None:
    """A "slow" request outlives the client's timeout: wait for the emulator to finish it before
    counting objects (this waits, it asserts nothing about time)."""
    give_up_at = time.monotonic() + deadline_seconds
    while time.monotonic() < give_up_at:
        with emulator._lock:
            pending = [entry for entry in emulator.access_log if entry["status"] is None]
        if not pending:
            return
        time.sleep(0.05)
    raise AssertionError(f"the emulator never answered: {pending}")


def assert_no_secrets_in_access_log(emulator, *raw_keys: str) -> None:
    """Raw virtual keys never travel to the server after creation, and the master key only in the
    Authorization header."""
    for entry in emulator.access_log:
        for raw_key in raw_keys:
            assert raw_key not in entry["query"], entry["path"]
            assert raw_key not in entry["body"], entry["path"]
            assert all(raw_key not in value for value in entry["headers"].values()), entry["path"]
        assert emulator.master_key not in entry["query"], entry["path"]
        assert emulator.master_key not in entry["body"], entry["path"]
        for name, value in entry["headers"].items():
            if name != "authorization":
                assert emulator.master_key not in value, (entry["path"], name)
