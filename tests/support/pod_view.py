"""A pod's view of its manifests, on this machine: what the kubelet would give the container.

``materialize_pod(deployment, objects, root)`` takes a rendered Deployment (or Job) manifest and the
ConfigMaps/Secrets it references, and builds, under ``root``:

- every ``volumeMounts`` entry: a ``configMap`` volume's items (or all its keys) as files under
  ``root/<mountPath>/`` (0644), a ``secret`` volume's the same way (0600), an ``emptyDir`` as an
  empty directory; any other volume kind, ``subPath`` or a mount of a missing object is refused;
- the container's environment: ``value`` entries as given, ``valueFrom.secretKeyRef`` /
  ``configMapKeyRef`` looked up in the objects (``stringData`` or base64 ``data``); a missing object
  or key is refused, as the kubelet refuses to start such a container (CreateContainerConfigError);
  ``envFrom`` and other sources are refused (the manifests do not use them; refusing keeps this
  honest); a value that is an absolute path under a mount (LITELLM_UI_PATH, LITELLM_MIGRATION_DIR)
  is translated like the command line's, any other value kept as given;
- the command line: ``command`` + ``args`` exactly, with each absolute path that lies under a mount
  translated to its place under ``root`` (``/etc/litellm/config.yaml`` ->
  ``root/etc/litellm/config.yaml``). An absolute path under no mount is refused: it would have to be
  in the image, which does not exist here.

The result (:class:`PodView`) names the container paths it translated, so a test can assert that
nothing else changed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping


class PodSpecError(ValueError):
    """The manifests would not start a container (or use something this view does not model)."""


@dataclass
class PodView:
    container: str
    command: list[str]  # translated
    args: list[str]  # translated
    env: dict[str, str]
    mounts: dict[str, Path]  # container mountPath -> directory under root
    translated: dict[str, str] = field(default_factory=dict)  # container path -> local path (args)
    prestop_sleep_seconds: int | None = None  # lifecycle.preStop.sleep: the kubelet waits, then SIGTERM

    def local_path(self, container_path: str) -> Path:
        return _translate(container_path, self.mounts)


def _find(objects: Mapping[str, Mapping[str, Any]], kind: str, name: str, namespace: str | None) -> Mapping[str, Any]:
    for obj in objects.values():
        meta = obj.get("metadata", {})
        if obj.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
            return obj
    raise PodSpecError(f"{kind} {namespace}/{name} is referenced but not among the objects")


def _data(obj: Mapping[str, Any]) -> dict[str, str]:
    out = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()} if obj.get("kind") == "Secret" else dict(obj.get("data") or {})
    out.update(obj.get("stringData") or {})
    return out


def _translate(path: str, mounts: Mapping[str, Path]) -> Path:
    p = PurePosixPath(path)
    best = None
    for mount in mounts:
        m = PurePosixPath(mount)
        if p == m or m in p.parents:
            if best is None or len(m.parts) > len(PurePosixPath(best).parts):
                best = mount
    if best is None:
        raise PodSpecError(f"{path} is under no volume mount (it would have to be in the image)")
    return mounts[best].joinpath(*p.relative_to(PurePosixPath(best)).parts)


def materialize_pod(workload: Mapping[str, Any], objects: Mapping[str, Mapping[str, Any]], root: Path, container: int = 0) -> PodView:
    namespace = workload["metadata"].get("namespace")
    pod = workload["spec"]["template"]["spec"]
    c = pod["containers"][container]
    unsupported = set(c) & {"envFrom", "workingDir"}
    if unsupported:
        raise PodSpecError(f"container {c['name']}: {sorted(unsupported)} not modelled here")
    # The kubelet's own preStop sleep runs nothing in the container (no command, no env): it only
    # delays the SIGTERM. Any other hook (exec, httpGet, postStart) would run in the container.
    lifecycle = c.get("lifecycle") or {}
    if set(lifecycle) - {"preStop"} or set(lifecycle.get("preStop") or {}) - {"sleep"}:
        raise PodSpecError(f"container {c['name']}: lifecycle hooks other than preStop.sleep are not modelled here")
    prestop_sleep = lifecycle["preStop"]["sleep"]["seconds"] if lifecycle else None

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for m in c.get("volumeMounts", []):
        if "subPath" in m or "subPathExpr" in m:
            raise PodSpecError(f"mount {m['name']}: subPath not modelled here")
        v = volumes.get(m["name"])
        if v is None:
            raise PodSpecError(f"mount {m['name']}: no such volume in the pod")
        local = root.joinpath(*PurePosixPath(m["mountPath"]).parts[1:])
        local.mkdir(parents=True, exist_ok=True)
        mounts[m["mountPath"]] = local
        if "emptyDir" in v:
            continue
        if "configMap" in v or "secret" in v:
            kind, ref = ("ConfigMap", v["configMap"]) if "configMap" in v else ("Secret", v["secret"])
            name = ref.get("name") or ref.get("secretName")
            data = _data(_find(objects, kind, name, namespace))
            items = ref.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] not in data:
                    raise PodSpecError(f"{kind} {name} has no key {item['key']}")
                target = local.joinpath(*PurePosixPath(item["path"]).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[item["key"]])
                target.chmod(0o644 if kind == "ConfigMap" else 0o600)
            continue
        raise PodSpecError(f"volume {m['name']}: kind {sorted(set(v) - {'name'})} not modelled here")

    env: dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        source = e.get("valueFrom", {})
        if "secretKeyRef" in source:
            kind, ref = "Secret", source["secretKeyRef"]
        elif "configMapKeyRef" in source:
            kind, ref = "ConfigMap", source["configMapKeyRef"]
        else:
            raise PodSpecError(f"env {e['name']}: source {sorted(source)} not modelled here")
        data = _data(_find(objects, kind, ref["name"], namespace))
        if ref["key"] not in data:
            raise PodSpecError(f"env {e['name']}: {kind} {ref['name']} has no key {ref['key']}")
        env[e["name"]] = data[ref["key"]]

    translated: dict[str, str] = {}

    def tr(arg: str) -> str:
        if not arg.startswith("/"):
            return arg
        local = str(_translate(arg, mounts))
        translated[arg] = local
        return local

    def tr_env(value: str) -> str:
        # a path the pod reads or writes through a mount (LITELLM_UI_PATH, LITELLM_MIGRATION_DIR...)
        # is that mount's directory here; any other value (a path in the image, a URL) is kept
        if not value.startswith("/"):
            return value
        try:
            return str(_translate(value, mounts))
        except PodSpecError:
            return value

    return PodView(
        container=c["name"],
        command=[tr(a) for a in c.get("command", [])],
        args=[tr(a) for a in c.get("args", [])],
        prestop_sleep_seconds=prestop_sleep,
        env={k: tr_env(v) for k, v in env.items()},
        mounts=mounts,
        translated=translated,
    )
