"""The hardened systemd unit: its directives, its `systemd-analyze security` score, and the pinned
proxy booting with the unit's ExecStart arguments and environment inside an emulation of the part
of the sandbox this container can enforce.

systemd is not PID 1 here (a container), so the unit itself cannot be started and its seccomp,
namespace and /proc directives are NOT enforced by these tests. What is emulated, with the kernel
features systemd would use: a private mount namespace whose root is read-only except the service's
home and temp dir (ProtectSystem=strict + ReadWritePaths + PrivateTmp), no capabilities in any set
and no_new_privs (CapabilityBoundingSet= / AmbientCapabilities= / NoNewPrivileges=yes, through
setpriv), and umask 0077 (UMask=). The proxy must become ready and answer a chat completion there.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering.admin_ui_dirs import UI_PATH_ENV, ui_dir
from rendering.host_files import UNIT_HARDENING, host_paths, prisma_environment, render_systemd_unit
from tests.support.proxy_harness import RunningProxy, litellm_cli
from tests.support.stack_gateway import build_stack_gateway
from tests.support.ui_dirs import release_with_ui

SCORE_BEFORE = 8.7  # the unit before hardening (README, Security model)


def _unit(gw) -> str:
    return render_systemd_unit(gw.settings, gw.settings.litellm.hosts[0])


def test_unit_carries_every_hardening_directive_and_scores_ok(tmp_path):
    s = load_stack_inputs("dev").settings()
    unit = render_systemd_unit(s, s.litellm.hosts[0])
    for line in UNIT_HARDENING:
        assert f"\n{line}\n" in unit, line
    assert f"\nReadWritePaths={host_paths(s).service_home}\n" in unit
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is needed (apt-get install systemd)", pytrace=False)
    (tmp_path / "litellm.service").write_text(unit)
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", "litellm.service"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    score = float(out.stdout.rsplit("Overall exposure level for litellm.service:", 1)[1].split()[0])
    print(f"systemd-analyze security --offline=true: {score} (before hardening: {SCORE_BEFORE})")
    assert score <= 1.5, out.stdout[-3000:]


def _sandbox_wrapper(tmp_path: Path, real_cli: str) -> Path:
    wrapper = tmp_path / "litellm-sandboxed"
    inner = (
        'W="$PWD"; '
        'mount --bind "$W/home" "$W/home" && mount --bind "$W/tmp" "$W/tmp" && '
        "mount -o remount,bind,ro / && "
        "umask 0077 && "
        "exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all "
        f'{shlex.quote(real_cli)} "$@"'
    )
    wrapper.write_text(f"#!/bin/bash\nexec unshare --mount --propagation private -- /bin/bash -c {shlex.quote(inner)} litellm \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def test_proxy_boots_with_the_units_execstart_and_env_inside_the_emulated_sandbox(tmp_path, redis_endpoint, fake_factory):
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (util-linux) is needed", pytrace=False)
    gw = build_stack_gateway(
        "dev", redis=redis_endpoint, make_fake=fake_factory, tls=False, cache={"enabled": False},
        # one worker: uvicorn kills a worker not ready 5 s after its spawn, which this loaded
        # shared machine cannot guarantee; the unit's other arguments are exactly the rendered ones
        extra_overrides={"litellm": {**load_stack_inputs("dev").settings().litellm.model_dump(), "workers": 1}},
    )
    try:
        unit = _unit(gw)
        exec_start = next(l for l in unit.splitlines() if l.startswith("ExecStart=")).split("=", 1)[1].split()
        assert exec_start[1:] == list(gw.args)
        # the release's built Admin UI (the dev stack has it on), read-only inside the sandbox as the
        # root-owned venv is on a host: the unit names <venv>/litellm-ui; here a venv built the same way
        venv = release_with_ui(tmp_path / "opt", read_only=False)
        assert f"\nEnvironment={UI_PATH_ENV}={ui_dir(host_paths(gw.settings).venv, True)}\n" in unit
        env = {**gw.env, **prisma_environment(gw.settings), UI_PATH_ENV: ui_dir(str(venv), True)}
        proxy = RunningProxy(gw.config, env, gw.args, name="sandboxed", cli=str(_sandbox_wrapper(tmp_path, litellm_cli())),
                             startup_timeout=300)
        with proxy:
            status = subprocess.run(["grep", "-E", "^(NoNewPrivs|CapBnd|CapEff)", f"/proc/{proxy.pid}/status"],
                                    capture_output=True, text=True).stdout
            assert "NoNewPrivs:\t1" in status and "CapBnd:\t0000000000000000" in status, status
            mounts = Path(f"/proc/{proxy.pid}/mounts").read_text().splitlines()
            root = [m for m in mounts if m.split()[1] == "/"][-1]
            assert " ro," in f" {root.split()[3]}," or root.split()[3].startswith("ro"), root
            model = gw.settings.models[0].model_name
            reply = proxy.openai_client().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content
            # the UI's extensionless routes work from the read-only directory (no restructuring needed)
            with proxy.http_client(follow_redirects=True) as http:
                login = http.get("/ui/login")
                assert login.status_code == 200 and "<html" in login.text.lower(), login.status_code
    finally:
        gw.close()
