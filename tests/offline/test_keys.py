"""`make keys` (offline/keys.py): one line per key, expired and soon-expiring keys marked, spend from
the proxy when the admin URL and master key are in the environment (here: the in-process emulator)."""

from __future__ import annotations

from datetime import datetime, timezone

from components.litellm_admin import client
from components.litellm_admin.client import AdminEndpoint
from offline import keys as keys_cmd
from tests.support.admin_emulator import AdminEmulator

NOW = datetime(2027, 6, 10, 12, 0, tzinfo=timezone.utc)
KEYS = [
    {"alias": "old-app", "service": "old-app", "models": ["llama3.2"], "max_budget": 5, "budget_duration": "1d", "expires": "2027-06-01T00:00:00Z"},
    {"alias": "soon-app", "service": "soon-app", "rpm_limit": 60, "tpm_limit": 1000, "expires": "2027-06-30T00:00:00Z"},
    {"alias": "later-app", "service": "later-app", "max_budget": 12.5, "expires": "2027-12-31T00:00:00Z", "rotate_after_days": 90},
    {"alias": "forever-app", "service": "forever-app"},
]


def test_one_line_per_key_with_expiry_marks(capsys):
    assert keys_cmd.main(["local"], environ={}, now=NOW, overrides={"keys": KEYS}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "old-app  service=old-app  team=-  models=llama3.2  budget=$5/1d  no limits  expires=2027-06-01T00:00Z  [EXPIRED]",
        "soon-app  service=soon-app  team=-  models=all  budget=unlimited  rpm=60 tpm=1000  expires=2027-06-30T00:00Z  [EXPIRES SOON (in 19 days)]",
        "later-app  service=later-app  team=-  models=all  budget=$12.5  no limits  expires=2027-12-31T00:00Z  rotates every 90d",
        "forever-app  service=forever-app  team=-  models=all  budget=unlimited  no limits  expires=never",
        "4 key(s): 1 expired, 1 expiring within 30 days",
    ]


def test_the_committed_dev_catalog_lists_its_teams_keys(capsys):
    assert keys_cmd.main(["dev"], environ={}, now=NOW) == 0
    out = capsys.readouterr().out
    assert "nextjs-app-dev  service=nextjs-app  team=product-apps  models=llama3.2,gpt-4o  budget=$25/30d  rpm=60  expires=2027-06-30T00:00Z  [EXPIRES SOON (in 19 days)]" in out
    assert out.strip().endswith("6 key(s): 0 expired, 2 expiring within 30 days")


def test_spend_per_key_from_the_proxy(capsys):
    with AdminEmulator(master_key="sk-emulator-keys-0123456789") as emulator:
        endpoint = AdminEndpoint(base_url=emulator.base_url, master_key=emulator.master_key, timeout=5.0, backoff_seconds=0.01)
        created = client.generate_key(endpoint, {"key_alias": "forever-app", "metadata": {}})
        emulator.keys[created["token"]]["spend"] = 1.25
        env = {keys_cmd.ADMIN_URL_ENV: emulator.base_url, keys_cmd.MASTER_KEY_ENV: emulator.master_key}
        assert keys_cmd.main(["local"], environ=env, now=NOW, overrides={"keys": KEYS}) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[3] == "forever-app  service=forever-app  team=-  models=all  budget=unlimited  no limits  expires=never  spend=$1.2500"
    assert lines[0].endswith("spend=not on the proxy  [EXPIRED]")
    assert emulator.master_key not in captured.out + captured.err and created["key"] not in captured.out + captured.err
