"""A real PostgreSQL 15 and a real Redis 7 serving TLS only, started by a test on loopback.

Each listens on 127.0.0.1 AND 127.0.0.2 (both loopback) on one free port, with a certificate from a
test CA that names 127.0.0.1 only: connecting to 127.0.0.1 is "the right name", to 127.0.0.2 "a
wrong name" on the very same server, and a second, unrelated CA is "a wrong CA". No other address
is ever contacted.

PostgreSQL: a throwaway cluster (`initdb` as the `postgres` account: initdb refuses root) with
`ssl=on` and a pg_hba.conf of `hostssl` lines only (a plaintext connection is refused outright),
scram-sha-256 for the test role. Redis: `redis-server` (Debian's is built with TLS: libssl) with
`port 0` (no plaintext listener) and `tls-port`, clients not asked for certificates, a password
from its config file (never a command line).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from contextlib import contextmanager

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.fake_upstreams import free_port
from tests.support.tls_material import key_pem, make_test_ca

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RIGHT_HOST = "127.0.0.1"
WRONG_NAME_HOST = "127.0.0.2"  # loopback too; not in the server's certificate


@dataclass
class TestPki:
    ca_pem: str
    other_ca_pem: str
    cert_pem: str
    key_pem: str


def make_pki() -> TestPki:
    """A test CA, a server certificate from it for IP 127.0.0.1 (serverAuth), and an unrelated CA."""
    ca_pem, ca_key_pem = make_test_ca("litellm-gateway database test CA")
    other_ca_pem, _ = make_test_ca("litellm-gateway unrelated CA")
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "db.test")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(RIGHT_HOST))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return TestPki(ca_pem=ca_pem, other_ca_pem=other_ca_pem,
                   cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem=key_pem(key))


@dataclass
class TlsPostgres:
    port: int
    role: str
    password: str
    database: str


@contextmanager
def tls_postgres(pki: TestPki, workdir: Path) -> Iterator[TlsPostgres]:
    pg = pwd.getpwnam("postgres")
    data = workdir / "pgdata"
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.chown(workdir, pg.pw_uid, pg.pw_gid)
    for name, text, mode in (("server.crt", pki.cert_pem, 0o644), ("server.key", pki.key_pem, 0o600)):
        (workdir / name).write_text(text)
        os.chown(workdir / name, pg.pw_uid, pg.pw_gid)
        (workdir / name).chmod(mode)
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-A", "reject", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    role, database, password = "gw_tls", "gw_tls", secrets.token_urlsafe(18)
    port = free_port()
    (data / "pg_hba.conf").write_text(
        "local all postgres peer\n"
        f"hostssl {database} {role} 127.0.0.1/32 scram-sha-256\n"
        f"hostssl {database} {role} 127.0.0.2/32 scram-sha-256\n"
    )
    conf = (
        f"port = {port}\nlisten_addresses = '{RIGHT_HOST},{WRONG_NAME_HOST}'\nunix_socket_directories = '{workdir}'\n"
        f"ssl = on\nssl_cert_file = '{workdir}/server.crt'\nssl_key_file = '{workdir}/server.key'\n"
        "fsync = off\nshared_buffers = 16MB\nmax_connections = 20\n"
    )
    with open(data / "postgresql.conf", "a") as f:
        f.write(conf)
    log = workdir / "postgres.log"
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120", "start"],
                   check=True, capture_output=True, timeout=150)
    try:
        admin = f"host={workdir} port={port} user=postgres dbname=postgres"
        # peer authentication as postgres over the socket (this process is root): psql under runuser
        sql = (f"CREATE ROLE {role} LOGIN PASSWORD '{password}'; CREATE DATABASE {database} OWNER {role};")
        subprocess.run([*as_pg, str(PG_BIN / "psql"), admin, "-v", "ON_ERROR_STOP=1", "-q"],
                       input=sql, text=True, check=True, capture_output=True, timeout=60)
        yield TlsPostgres(port=port, role=role, password=password, database=database)
    finally:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)


@dataclass
class TlsRedis:
    port: int
    password: str


@contextmanager
def tls_redis(pki: TestPki, workdir: Path) -> Iterator[TlsRedis]:
    workdir.mkdir(parents=True, exist_ok=True)
    for name, text in (("server.crt", pki.cert_pem), ("server.key", pki.key_pem), ("ca.crt", pki.ca_pem)):
        (workdir / name).write_text(text)
    (workdir / "server.key").chmod(0o600)
    password = secrets.token_urlsafe(18)
    port = free_port()
    conf = workdir / "redis.conf"
    conf.write_text(
        f"port 0\ntls-port {port}\nbind {RIGHT_HOST} {WRONG_NAME_HOST}\n"
        f"tls-cert-file {workdir}/server.crt\ntls-key-file {workdir}/server.key\ntls-ca-cert-file {workdir}/ca.crt\n"
        "tls-auth-clients no\nsave \"\"\nappendonly no\n"
        f"dir {workdir}\nrequirepass {password}\n"
    )
    conf.chmod(0o600)
    proc = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        ca_file = workdir / "ca.crt"
        while True:
            try:
                redis.Redis(host=RIGHT_HOST, port=port, password=password, ssl=True, ssl_ca_certs=str(ca_file),
                            socket_timeout=5).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server with TLS did not come up on {port} (exit {proc.poll()})")
                time.sleep(0.2)
        yield TlsRedis(port=port, password=password)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def temp_workdir(label: str) -> Path:
    """A directory the `postgres` account can enter (pytest's tmp_path is under root's 0700 tree)."""
    path = Path(tempfile.mkdtemp(prefix=f"llmgw-{label}-", dir="/tmp"))
    path.chmod(0o755)
    return path
