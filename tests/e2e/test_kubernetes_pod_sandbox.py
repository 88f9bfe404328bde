"""The rendered serving container as its securityContext runs it (issue 19, towards point 5): the
pinned proxy booted from the `kube` stack's Deployment (tests/support/kube_pod.py, as in the boot
test) inside an emulation of what the kubelet enforces for this pod, with the kernel features it
would use:

- `runAsUser`/`runAsGroup` 65534 (`runAsNonRoot`), no supplementary groups;
- `readOnlyRootFilesystem: true`: a private mount namespace whose root is remounted read-only, with
  only the pod's emptyDirs (the materialized `/tmp` stand-in, the migrations directory) bind-mounted
  writable and owned by 65534 (`fsGroup`);
- `allowPrivilegeEscalation: false` and `capabilities: {drop: [ALL]}`: no_new_privs, empty bounding,
  inheritable and ambient sets (setpriv);
- `LITELLM_NON_ROOT=true`, which the litellm-non_root image sets in its ENV.

Not emulated: seccomp (RuntimeDefault), the image's own files (the venv's LiteLLM instead), the
database (dropped as in the boot test; see test_kubernetes_pod_database.py for a pod with one).
The proxy must become ready, answer a completion, and run with exactly that identity and mounts.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from rendering import kubernetes_objects as ko
from tests.support.kube_pod import boot_kube_pod
from tests.support.proxy_harness import litellm_cli

pytestmark = pytest.mark.slow


def _hidden_python() -> tuple[Path, Path] | None:
    """The venv's base Python may live under a directory the pod's user cannot enter (pyenv under
    /root, 0700); in the image the interpreter is readable by everyone. Returns (that closed
    directory, its child on the way to the interpreter), or None."""
    prefix = Path(sys.base_prefix).resolve()
    for parent in reversed(prefix.parents):
        if parent != Path("/") and not parent.stat().st_mode & stat.S_IXOTH:
            return parent, Path(*prefix.parts[: len(parent.parts) + 1])
    return None


def _pod_sandbox(tmp_path: Path, real_cli: str, emptydirs: list[Path], uid: int, traverse: list[Path]) -> Path:
    """A wrapper the harness runs as the CLI, in its workdir: as root, give the pod's user its
    emptyDirs and the harness's TMPDIR (the pod's /tmp emptyDir), make the config copy readable,
    bind those writable, remount / read-only, then drop to the pod's user with no privileges.
    `traverse`: the temp directories above them (mkdtemp's 0700), opened to the pod's user."""
    q = shlex.quote
    writable = ['"$W/tmp"', *[q(str(p)) for p in emptydirs]]
    steps = ['W="$PWD"', f"chmod 0755 \"$W\" {' '.join(q(str(p)) for p in traverse)}", f"chown {uid}:{uid} {' '.join(writable)}"]
    hidden = _hidden_python()
    if hidden is not None:
        # in this mount namespace only: the closed directory becomes a 0755 tmpfs holding just the
        # interpreter's tree (as readable as in the image); nothing changes outside
        closed, child = q(str(hidden[0])), q(str(hidden[1]))
        keep = q(str(tmp_path / "python-tree"))
        steps += [f"mkdir -p {keep}", f"mount --bind {child} {keep}", f"mount -t tmpfs -o mode=0755,size=1m tmpfs {closed}",
                  f"mkdir -p {child}", f"mount --bind {keep} {child}"]
    steps += [f"mount --bind {d} {d}" for d in writable]
    steps.append("mount -o remount,bind,ro /")
    if hidden is not None:
        steps += [f"mount -o remount,ro {q(str(hidden[0]))}", f"mount -o remount,bind,ro {q(str(hidden[1]))}"]
    steps.append(f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs "
                 f'--bounding-set=-all --inh-caps=-all --ambient-caps=-all {q(real_cli)} "$@"')
    inner = steps[0] + "; " + " && ".join(steps[1:])
    wrapper = tmp_path / "litellm-in-pod"
    wrapper.write_text(f"#!/bin/bash\nexec unshare --mount --propagation private -- /bin/bash -c {q(inner)} litellm \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def test_the_container_runs_as_its_security_context_says(tmp_path, fake_factory, redis_endpoint):
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (util-linux) is needed", pytrace=False)
    # the wrapper needs the pod root before the pod is materialized: materialize, then build the CLI
    settings, manifests, fakes, proxy, root, view = boot_kube_pod(
        fake_factory, redis_endpoint, name="kube-sandbox", extra_env={"LITELLM_NON_ROOT": "true"})
    pod = manifests["deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    uid = pod["securityContext"]["runAsUser"]
    assert uid == pod["securityContext"]["runAsGroup"] == pod["securityContext"]["fsGroup"] == ko.RUN_AS_USER
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    emptydirs = [view.mounts[m["mountPath"]] for m in c["volumeMounts"] if "readOnly" not in m]
    assert {m["mountPath"] for m in c["volumeMounts"] if "readOnly" not in m} == {"/tmp", "/var/lib/litellm/migrations"}
    proxy.cli = str(_pod_sandbox(tmp_path, litellm_cli(), emptydirs, uid, [root]))
    try:
        proxy.start()
        status = Path(f"/proc/{proxy.pid}/status").read_text()
        fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split() for line in status.splitlines() if ":" in line}
        assert fields["Uid"] == [str(uid)] * 4 and fields["Gid"] == [str(uid)] * 4, (fields["Uid"], fields["Gid"])
        assert fields["Groups"] == [] and fields["NoNewPrivs"] == ["1"]
        assert fields["CapBnd"] == fields["CapEff"] == fields["CapPrm"] == ["0000000000000000"]
        mounts = {line.split()[1]: line.split()[3].split(",") for line in Path(f"/proc/{proxy.pid}/mounts").read_text().splitlines()}
        assert "ro" in mounts["/"], mounts["/"]
        for d in emptydirs:
            assert "rw" in mounts[str(d)], (d, mounts.get(str(d)))
        assert "ro" in mounts.get(str(proxy.workdir), mounts["/"])  # HOME and the config copy: read-only, as /app
        with proxy.http_client() as http:
            assert http.get(c["readinessProbe"]["httpGet"]["path"]).status_code == 200
        (gpt,) = [fakes[m.id] for m in settings.models if m.model_name == "gpt-4o"]
        prompt = f"kube sandbox {uuid.uuid4().hex}"
        reply = proxy.openai_client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
        assert reply.choices[0].message.content == gpt.reply_text(prompt)
    finally:
        proxy.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_sandbox_refuses_a_write_outside_the_emptydirs(tmp_path):
    """The emulation itself can fail: the same wrapper around a shell that writes to an emptyDir,
    to the read-only root (a directory the pod's user owns, so only the mount stops it) and tries root."""
    base = Path(tempfile.mkdtemp(prefix="kube-sandbox-check-"))
    try:
        emptydir, work, owned = base / "emptydir", base / "work", base / "owned"
        emptydir.mkdir()
        (work / "tmp").mkdir(parents=True)
        owned.mkdir()
        os.chown(owned, ko.RUN_AS_USER, ko.RUN_AS_USER)
        wrapper = _pod_sandbox(tmp_path, "/bin/sh", [emptydir], ko.RUN_AS_USER, [base])
        script = (f"id -u; touch {emptydir}/ok && echo emptydir-ok; touch {owned}/x 2>/dev/null || echo root-ro; "
                  "setpriv --reuid=0 true 2>/dev/null || echo no-root")
        done = subprocess.run([str(wrapper), "-c", script], cwd=work, capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == [str(ko.RUN_AS_USER), "emptydir-ok", "root-ro", "no-root"], done.stdout + done.stderr
        assert (emptydir / "ok").exists() and not (owned / "x").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
