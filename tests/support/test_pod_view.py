"""tests/support/pod_view.py: what it builds, and what it refuses (as the kubelet would)."""

from __future__ import annotations

import base64

import pytest

from tests.support.pod_view import PodSpecError, materialize_pod


def workload(container_extra=None, volumes=None, mounts=None, env=None, args=None):
    c = {"name": "app", "command": ["litellm"], "args": args or ["--config", "/etc/app/config.yaml"],
         "env": env if env is not None else [{"name": "A", "value": "1"},
                                             {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "S"}}}],
         "volumeMounts": mounts if mounts is not None else [{"name": "cfg", "mountPath": "/etc/app"}, {"name": "tmp", "mountPath": "/tmp"}],
         **(container_extra or {})}
    return {"kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"template": {"spec": {"containers": [c], "volumes": volumes if volumes is not None else [
                {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "config.yaml", "path": "config.yaml"}]}},
                {"name": "tmp", "emptyDir": {}}]}}}}


OBJECTS = {
    "cm": {"kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}, "data": {"config.yaml": "a: 1\n"}},
    "s": {"kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, "data": {"S": base64.b64encode(b"v").decode()}},
}


def test_files_env_and_args(tmp_path):
    view = materialize_pod(workload(), OBJECTS, tmp_path)
    assert (tmp_path / "etc/app/config.yaml").read_text() == "a: 1\n"
    assert (tmp_path / "tmp").is_dir()
    assert view.env == {"A": "1", "S": "v"}
    assert view.args == ["--config", str(tmp_path / "etc/app/config.yaml")]
    assert view.command == ["litellm"] and view.translated == {"/etc/app/config.yaml": str(tmp_path / "etc/app/config.yaml")}


@pytest.mark.parametrize("kwargs, message", [
    ({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "NOPE"}}}]}, "Secret s has no key NOPE"),
    ({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "other", "key": "S"}}}]}, "Secret ns/other is referenced"),
    ({"args": ["--config", "/opt/elsewhere.yaml"]}, "/opt/elsewhere.yaml is under no volume mount"),
    ({"mounts": [{"name": "cfg", "mountPath": "/etc/app/config.yaml", "subPath": "config.yaml"}]}, "subPath not modelled"),
    ({"container_extra": {"envFrom": [{"secretRef": {"name": "s"}}]}}, "not modelled here"),
    ({"volumes": [{"name": "cfg", "hostPath": {"path": "/x"}}, {"name": "tmp", "emptyDir": {}}]}, "not modelled here"),
    ({"container_extra": {"lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}}}}, "other than preStop.sleep"),
    ({"container_extra": {"lifecycle": {"postStart": {"sleep": {"seconds": 1}}}}}, "other than preStop.sleep"),
])
def test_refusals(tmp_path, kwargs, message):
    with pytest.raises(PodSpecError, match=message):
        materialize_pod(workload(**kwargs), OBJECTS, tmp_path)


def test_a_prestop_sleep_is_the_kubelets_and_changes_nothing_in_the_container(tmp_path):
    plain = materialize_pod(workload(), OBJECTS, tmp_path / "a")
    view = materialize_pod(workload(container_extra={"lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}), OBJECTS, tmp_path / "b")
    assert view.prestop_sleep_seconds == 10 and plain.prestop_sleep_seconds is None
    assert (view.command, view.env) == (plain.command, plain.env)
