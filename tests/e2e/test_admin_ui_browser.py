"""The Admin UI with the stack's own credentials, in a real browser, on the real proxy with its
database (issue 20).

One real proxy for the module, started with what a stack with `adminUi: {enabled: true, username:
gateway-admin}` and a secret `uiPassword` renders (the env file's Admin UI entries from
`rendering.host_files.plain_env` + `UI_PASSWORD`, config.yaml's `general_settings`), and Debian's
headless Chromium driven over the DevTools protocol (tests/support/chromium_cdp.py): the password is
typed through the DevTools socket, never put on a command line.

Shown:
- the login page renders (username and password fields);
- the stack's UI credentials, typed into that form, reach the dashboard, and its Virtual Keys page
  lists the keys created through the admin API (screenshots saved under the test's tmp dir:
  `login.png`, `dashboard.png`, `keys.png`);
- the master key as the password is refused (by the form, `POST /login` and `POST /v2/login`), for the
  stack's UI user and for LiteLLM's default `admin`.
"""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from config.host_env import UI_PLAIN_ENV_NAMES
from offline.stack_inputs import load_stack_inputs
from rendering.admin_ui_dirs import UI_PATH_ENV, ui_dir
from rendering.host_files import plain_env, secret_env_names
from rendering.litellm_yaml import render_litellm_config
from tests.support.chromium_cdp import Chromium
from tests.support.real_proxy import DEFAULT_CONFIG
from tests.support.real_proxy_fixtures import real_proxy_factory  # noqa: F401
from tests.support.ui_dirs import release_with_ui

pytestmark = pytest.mark.slow

USER = "gateway-admin"


class UiRig:
    def __init__(self, proxy, browser, ui_password, key_aliases, shots, venv, off):
        self.proxy, self.browser, self.ui_password = proxy, browser, ui_password
        self.key_aliases, self.shots, self.venv = key_aliases, shots, venv
        self._off = off

    @property
    def off(self):
        """The proxy booted with what a stack without adminUi renders (see ui_off_launch)."""
        if "error" in self._off:
            raise self._off["error"]
        return self._off["proxy"]

    def url(self, path: str) -> str:
        return f"{self.proxy.base_url}{path}"

    def login_page(self):
        page = self.browser.new_page()
        page.send("Network.clearBrowserCookies")
        page.navigate(self.url("/ui/login"))
        page.wait_for("!!document.querySelector('input[type=password]')", what="the login form")
        return page

    def sign_in(self, page, username: str, password: str) -> None:
        page.type_into("input[name=username], input[placeholder='Enter your username']", username)
        page.type_into("input[type=password]", password)
        page.click("button[type=submit]")


def ui_off_launch(venv):
    """What a stack without adminUi renders (the default) for the proxy: its settings, the env the
    proxy gets (the UI entries plus LITELLM_UI_PATH of the release's "off" directory), the rendered
    general_settings and the proxy's config."""
    settings = load_stack_inputs("local").settings()
    env = {name: value for name, value in plain_env(settings) if name in UI_PLAIN_ENV_NAMES}
    general = render_litellm_config(settings)["general_settings"]
    config = {**DEFAULT_CONFIG, "general_settings": {"master_key": general["master_key"],
                                                     **{k: v for k, v in general.items() if k.startswith("disable_")}}}
    return settings, {**env, UI_PATH_ENV: ui_dir(str(venv), False)}, general, config


@pytest.fixture(scope="module")
def rig(real_proxy_factory, tmp_path_factory):
    ui_password = f"ui-{secrets.token_urlsafe(18)}"
    settings = load_stack_inputs("local", overrides={"adminUi": {"enabled": True, "username": USER}},
                                 secrets={"uiPassword": ui_password}).settings()
    assert "UI_PASSWORD" in secret_env_names(settings)
    env = {name: value for name, value in plain_env(settings) if name in UI_PLAIN_ENV_NAMES}
    assert env == {"DISABLE_ADMIN_UI": "False", "UI_USERNAME": USER}
    env["UI_PASSWORD"] = ui_password
    # the UI the hosts serve: the release's directory the install builds (rendering.admin_ui_dirs),
    # read-only as in a root-owned venv, named by LITELLM_UI_PATH as the unit / local launch do
    venv = release_with_ui(tmp_path_factory.mktemp("release"))
    env[UI_PATH_ENV] = ui_dir(str(venv), True)
    general = render_litellm_config(settings)["general_settings"]
    config = {**DEFAULT_CONFIG, "general_settings": {"master_key": general["master_key"],
                                                     **{k: v for k, v in general.items() if k.startswith("disable_")}}}
    # The UI-off proxy of the last test boots meanwhile (a proxy's boot is mostly CPU: two at once
    # use both cores); the test finds it in `rig.off` (or the error its boot raised).
    _, off_env, _, off_config = ui_off_launch(venv)
    off: dict = {}

    def boot_off() -> None:
        try:
            off["proxy"] = real_proxy_factory.start(config=off_config, env=off_env, name="admin-ui-off")
        except BaseException as exc:  # noqa: BLE001 - raised again by the test that uses it
            off["error"] = exc

    booting = threading.Thread(target=boot_off)
    booting.start()
    try:
        proxy = real_proxy_factory.start(config=config, env=env, name="admin-ui")
    finally:
        booting.join()
    aliases = [f"ui-probe-{secrets.token_hex(4)}-{i}" for i in range(2)]
    for alias in aliases:
        proxy.generate_key(key_alias=alias, models=["mock-gpt"])
    shots = tmp_path_factory.mktemp("admin-ui")
    with Chromium(shots) as browser:
        yield UiRig(proxy, browser, ui_password, aliases, shots, venv, off)


def test_the_login_page_renders(rig):
    page = rig.login_page()
    assert page.evaluate("!!document.querySelector(\"input[placeholder='Enter your username']\")")
    assert "Login" in page.text() or "Sign in" in page.text()
    shot = page.screenshot(rig.shots / "login.png")
    assert shot.stat().st_size > 5000


def test_the_stacks_ui_credentials_reach_the_dashboard_listing_the_keys(rig):
    page = rig.login_page()
    rig.sign_in(page, USER, rig.ui_password)
    page.wait_for("!location.pathname.endsWith('/login') && !location.pathname.endsWith('/login/')",
                  what="leaving the login page")
    cookies = page.send("Network.getCookies", {"urls": [rig.url("/")]})["cookies"]
    assert any(c["name"] == "token" for c in cookies), [c["name"] for c in cookies]
    page.wait_for("document.body && document.body.innerText.length > 200", what="the dashboard")
    time.sleep(2)
    page.screenshot(rig.shots / "dashboard.png")
    page.navigate(rig.url("/ui/?page=api-keys"))
    listed = " && ".join(f"document.body.innerText.includes('{a}')" for a in rig.key_aliases)
    page.wait_for(listed, timeout=120, what="the keys created through the admin API listed")
    shot = page.screenshot(rig.shots / "keys.png")
    print(f"screenshots: {rig.shots}")
    assert shot.stat().st_size > 20000
    assert rig.ui_password not in page.evaluate("document.documentElement.outerHTML")


def test_the_master_key_as_password_is_refused(rig):
    master = rig.proxy.master_key
    with rig.proxy.client(headers={}, follow_redirects=False) as http:
        for user in (USER, "admin"):
            form = http.post("/login", data={"username": user, "password": master})
            assert form.status_code in (400, 401, 403), (user, form.status_code)
            assert "token" not in form.cookies
            api = http.post("/v2/login", json={"username": user, "password": master})
            assert api.status_code in (400, 401, 403), (user, api.status_code)
    page = rig.login_page()
    rig.sign_in(page, USER, master)
    page.wait_for("document.body.innerText.includes('Invalid credentials')", what="the form's refusal")
    assert page.evaluate("location.pathname").rstrip("/").endswith("/login")
    cookies = page.send("Network.getCookies", {"urls": [rig.url("/")]})["cookies"]
    assert not any(c["name"] == "token" for c in cookies)
    page.screenshot(rig.shots / "master-key-refused.png")


def test_with_the_ui_off_the_browser_finds_no_ui(rig):
    # what a stack without adminUi renders (the default), on a proxy reached directly, no front door
    settings, env, general, config = ui_off_launch(rig.venv)
    assert not settings.admin_ui.enabled
    assert env == {"DISABLE_ADMIN_UI": "True", UI_PATH_ENV: ui_dir(str(rig.venv), False)}
    assert general.get("disable_env_credential_login") is True
    off = rig.off
    assert off.config == {**config, "general_settings": {**config["general_settings"], "proxy_batch_write_at": 1}}
    page = rig.browser.new_page()
    for path in ("/ui", "/ui/login", "/ui/?page=api-keys"):
        page.navigate(f"{off.base_url}{path}")
        page.wait_for("document.readyState === 'complete'", what=f"{path} loaded")
        assert not page.evaluate("!!document.querySelector('input[type=password]')"), path
        assert "Not Found" in page.text(), (path, page.text()[:200])
    page.screenshot(rig.shots / "ui-off.png")
    with off.client(headers={}, follow_redirects=True) as http:
        assert [http.get(p).status_code for p in ("/ui", "/ui/", "/ui/login")] == [404, 404, 404]
        # and no credential of the environment signs in, the master key included
        assert http.post("/v2/login", json={"username": "admin", "password": off.master_key}).status_code in (400, 401, 403)
