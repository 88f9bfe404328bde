"""Boot the real LiteLLM proxy from what a *stack* renders, in front of fake upstreams and a real Redis.

``build_stack_gateway("local" | "dev", ...)`` takes a stack file (Pulumi.<stack>.yaml, through
``offline.stack_inputs.load_stack_inputs``), changes only what a test machine must change, renders
the host's files with the same functions the host component uses, and returns a
:class:`StackGateway` whose :meth:`StackGateway.proxy` is a :class:`RunningProxy` of exactly those
files. Every change from "the stack as committed" to "the test run" is one of the named steps below,
applied in this order and listed in ``StackGateway.steps``; nothing else is edited, and no step
edits a rendered file: each is stack config (``overrides`` of whole top-level keys, or test secrets)
that then goes through the stack's own validation and renderers.

TRANSFORMATIONS (stack -> test run)

0. ``validate-first``: the stack plus the caller's own overrides (routing, cache, extra) is loaded
   and validated before anything is started. A bad stack raises ``config.loader.ConfigError`` here:
   no fake, no proxy.
1. ``replicas``: (only when asked, ``replicas={"llama3.2": 2}``) the stack's first deployment of a
   public name is declared N times (ids ``<id>``, ``<id>.replica-2``, ...) in the ``models`` key: the
   catalog's way of declaring replicas. The committed stacks declare none.
2. ``fake-upstreams``: each deployment's ``api_base`` (an address on the environment's network, or
   none for a hosted provider) becomes the URL of its *own* fake, so the reply's identity names the
   deployment: ``ollama``/``ollama_chat`` -> :class:`FakeOllama` (``base_url``); ``openai``,
   ``openai_compatible`` -> :class:`FakeOpenAI` (``api_base`` = ``base_url/v1``); ``anthropic`` ->
   :class:`FakeAnthropic` (``base_url``; LiteLLM's anthropic provider appends ``/v1/messages`` to a
   custom api_base and speaks the Messages API, so the provider stays ``anthropic``). Provider,
   model, model_name, id, rpm/tpm, keys: unchanged. Other providers are refused.
3. ``models-in-config``: a stack with ``litellm.model_source: api`` (its deployments are created
   through the admin API, which needs the database) gets ``model_source: config`` in its
   ``litellm`` key, so the same deployments are rendered into ``model_list``.
   ``workers``, ``port``, paths etc. stay as declared.
4. ``test-redis``: the ``redis`` key becomes ``{host, port}`` of the test Redis (dropped with it:
   the stack's ACL ``user``/``manage_acl``/``tls``/``ssh_host``, which the test Redis does not have).
   ``REDIS_PASSWORD`` in the env file is the test Redis's password (none: the line is omitted, as the
   renderer does for an empty one).
5. ``plain-http``: (only with ``tls=False``) ``tls: {enabled: false}``. Used for dev: its host
   certificate names (hx-litellm-server.hx.dev.local, 192.168.10.20) cannot be verified on loopback.
   With TLS on, the certificate is built from what the stack's ``TlsCertificate`` declares under
   the mock engine (step 9) and the unit's own ``--ssl_*`` flags are kept.
6. ``routing`` / ``cache``: the caller's keys are merged over the stack's *declared* ``routing`` /
   ``cache`` (e.g. ``allowed_fails: 0, cooldown_time: 2, timeout: 4`` for deterministic cooldowns;
   ``cache: {enabled: false}``); strategy, num_retries and fallbacks stay the stack's unless given.
7. ``test-secrets``: every secret the stack needs gets a fresh random test value: ``masterKey`` (an
   ``sk-`` key; it becomes ``LITELLM_MASTER_KEY``), every ``envSecrets.NAME`` the config references
   (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``: random; ``SLACK_WEBHOOK_URL``: the URL of a loopback
   :class:`AlertSink`, so the stack's Slack alerting posts to 127.0.0.1, never to Slack), a salt
   key and a ``DATABASE_URL``; the other secrets (SSH key, DNS password, CA key) get
   ``load_stack_inputs``'s placeholders - nothing on the proxy's path uses them.
8. ``render``: ``render_litellm_config(settings)`` -> config.yaml, ``render_env_file(settings, values)``
   with values for exactly ``secret_env_names(settings)`` -> parsed into the proxy's environment,
   ``proxy_args(settings)`` -> its command line.
9. ``program-cross-check``: the real Pulumi program runs under the mock engine with the same config;
   the config.yaml text its host component writes must equal ours, its env file must define the
   same names, its systemd unit's ExecStart must carry our args; with TLS on, the CA + server
   certificate are built (``tests.support.tls_material``) from the inputs its ``tls:index/...``
   resources declare (subject, SANs, usages, key algorithm, validity).
10. ``without-database``: ``proxy_harness.without_database`` drops ``general_settings.database_url``/
   ``store_model_in_db`` and ``DATABASE_URL``/``STORE_MODEL_IN_DB`` (Prisma engines cannot be
   downloaded here). Logged; listed in ``StackGateway.dropped_database_settings``.

Then :class:`RunningProxy` changes only ``--config`` (its private copy), ``--port`` (a free one)
and ``--host`` (127.0.0.1), and, with TLS, the two ``--ssl_*`` paths (copies of the built files).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from config.settings import GatewaySettings
from offline.stack_inputs import load_stack_inputs
from rendering.host_files import proxy_args, render_env_file, secret_env_names
from rendering.litellm_yaml import render_litellm_config, render_litellm_config_yaml
from tests.support.fake_upstreams import FakeAnthropic, FakeOllama, FakeOpenAI, FakeUpstream, _Handler
from tests.support.proxy_harness import ProxyTls, RunningProxy, without_database

__all__ = [
    "StackGateway",
    "AlertSink",
    "build_stack_gateway",
    "parse_env_file",
    "fake_class_for",
    "TRANSFORMATION_STEPS",
]

TRANSFORMATION_STEPS = (
    "validate-first",
    "replicas",
    "fake-upstreams",
    "models-in-config",
    "test-redis",
    "plain-http",
    "routing",
    "cache",
    "test-secrets",
    "render",
    "program-cross-check",
    "without-database",
)

TLS_COMPONENT = "litellm-gateway:tls:TlsCertificate"

MakeFake = Callable[..., FakeUpstream]


class AlertSink(FakeUpstream):
    """A loopback stand-in for a webhook (Slack): answers 200 ``ok`` to any POST, counts them."""

    kind = "sink"

    def _route(self, h: _Handler, method: str, path: str, body: dict) -> None:
        h.send_json(200, "ok")


def fake_class_for(provider: str) -> type[FakeUpstream]:
    if provider in ("ollama", "ollama_chat"):
        return FakeOllama
    if provider in ("openai", "openai_compatible"):
        return FakeOpenAI
    if provider == "anthropic":
        return FakeAnthropic
    raise ValueError(f"no fake upstream for provider {provider!r}: add one to tests/support/fake_upstreams.py")


def _api_base(fake: FakeUpstream) -> str:
    return fake.api_base if isinstance(fake, FakeOpenAI) else fake.base_url


def parse_env_file(text: str) -> dict[str, str]:
    """The env file as systemd's EnvironmentFile= reads what render_env_file writes
    (``NAME="value"`` with ``\\\\`` and ``\\"`` escapes; comments and blank lines skipped)."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, raw = line.partition("=")
        if not sep or not (len(raw) >= 2 and raw[0] == raw[-1] == '"'):
            raise ValueError(f"env file line {number}: not NAME=\"value\" (name {name!r})")
        out, i, inner = [], 0, raw[1:-1]
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                out.append(inner[i + 1])
                i += 2
            else:
                out.append(inner[i])
                i += 1
        env[name] = "".join(out)
    return env


def _token(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(16)}"


@dataclass
class StackGateway:
    """One stack, rendered for a test run. Values in ``env`` are secrets: never print them."""

    stack: str
    settings: GatewaySettings
    config: dict[str, Any]  # after without_database
    config_yaml: str  # the rendered file, byte for byte what the host component writes
    env: dict[str, str]  # the proxy's environment, parsed from the rendered env file (after without_database)
    args: list[str]  # proxy_args(settings): the unit's command line
    fakes: dict[str, FakeUpstream]  # deployment id -> its fake
    steps: list[str]
    overrides: dict[str, Any]  # the stack config keys replaced (no secrets in here)
    dropped_database_settings: list[str]
    tls: Optional[ProxyTls] = None
    alert_sink: Optional[AlertSink] = None
    tls_dir: Optional[Path] = None
    owned: list[FakeUpstream] = field(default_factory=list)

    @property
    def master_key(self) -> str:
        return self.env["LITELLM_MASTER_KEY"]

    @property
    def public_names(self) -> list[str]:
        return self.settings.public_model_names

    def deployments_of(self, public_name: str) -> list[str]:
        return [m.id for m in self.settings.models if m.model_name == public_name]

    def fakes_of(self, public_name: str) -> list[FakeUpstream]:
        return [self.fakes[i] for i in self.deployments_of(public_name)]

    def fake(self, deployment_id: str) -> FakeUpstream:
        return self.fakes[deployment_id]

    def proxy(self, name: Optional[str] = None, **kwargs: Any) -> RunningProxy:
        """A (not yet started) RunningProxy of the rendered files."""
        return RunningProxy(self.config, self.env, self.args, name=name or self.stack, tls=self.tls, **kwargs)

    def close(self) -> None:
        """Close the fakes this object started itself (not those of a caller's factory); remove the
        TLS material's temp dir."""
        for fake in self.owned:
            fake.close()
        if self.tls_dir is not None:
            shutil.rmtree(self.tls_dir, ignore_errors=True)


def _default_factory(owned: list[FakeUpstream]) -> MakeFake:
    def make(cls: type[FakeUpstream], identity: str, **kwargs: Any) -> FakeUpstream:
        fake = cls(identity, **kwargs).start()
        owned.append(fake)
        return fake

    return make


def _declared(stack: str, overrides: Mapping[str, Any]) -> GatewaySettings:
    # fill_missing_secrets: the committed stacks leave secrets to `pulumi config set --secret`.
    return load_stack_inputs(stack, overrides=dict(overrides)).settings()


def _model_dict(m) -> dict[str, Any]:
    return m.model_dump(mode="json", exclude_none=True)


def build_stack_gateway(
    stack: str,
    *,
    redis: Any,
    make_fake: Optional[MakeFake] = None,
    replicas: Optional[Mapping[str, int]] = None,
    routing: Optional[Mapping[str, Any]] = None,
    cache: Optional[Mapping[str, Any]] = None,
    tls: bool = True,
    extra_overrides: Optional[Mapping[str, Any]] = None,
    identity_prefix: Optional[str] = None,
) -> StackGateway:
    """Apply the TRANSFORMATIONS (module docstring) to ``stack`` and render its host's files.

    ``redis``: an object with ``host``, ``port``, ``password`` (``e2e_fixtures.RedisEndpoint``).
    ``make_fake(cls, identity, **kw)`` starts a fake (the ``fake_factory`` fixture); by default the
    fakes are started here and closed by :meth:`StackGateway.close`.
    """
    steps: list[str] = []
    prefix = identity_prefix or stack

    # 0. validate-first: the stack + the caller's own changes, before anything starts.
    declared = _declared(stack, {})
    caller: dict[str, Any] = dict(extra_overrides or {})
    if routing:
        caller["routing"] = {**declared.routing.model_dump(mode="json"), **dict(routing)}
    if cache:
        caller["cache"] = {**declared.cache.model_dump(mode="json", exclude_none=True), **dict(cache)}
    if caller:
        declared = _declared(stack, caller)  # raises ConfigError with the stack's own message
    steps.append("validate-first")

    overrides: dict[str, Any] = dict(caller)

    # 1. replicas
    models = [_model_dict(m) for m in declared.models]
    for public_name, count in (replicas or {}).items():
        first = next((m for m in models if m["model_name"] == public_name), None)
        if first is None:
            raise ValueError(f"stack {stack!r} has no deployment named {public_name!r} to replicate")
        at = models.index(first)
        for n in range(2, count + 1):
            models.insert(at + n - 1, {**first, "id": f"{first['id']}.replica-{n}"})
        steps.append(f"replicas:{public_name}x{count}")

    # 2. fake-upstreams (one fake per deployment)
    owned: list[FakeUpstream] = []
    make = make_fake or _default_factory(owned)
    fakes: dict[str, FakeUpstream] = {}
    for m in models:
        cls = fake_class_for(m["provider"])
        fake = make(cls, f"{prefix}:{m['id']}", models=(m["model"],))
        fakes[m["id"]] = fake
        m["api_base"] = _api_base(fake)
    overrides["models"] = models
    steps.append("fake-upstreams")

    # 3. models-in-config
    if declared.litellm.model_source == "api":
        overrides["litellm"] = {**declared.litellm.model_dump(mode="json", exclude_none=True), "model_source": "config"}
        steps.append("models-in-config")

    # 4. test-redis
    overrides["redis"] = {"host": redis.host, "port": int(redis.port)}
    steps.append("test-redis")

    # 5. plain-http
    if not tls and declared.tls.enabled:
        overrides["tls"] = {**declared.tls.model_dump(mode="json"), "enabled": False, "allow_plaintext": True}
        steps.append("plain-http")

    # 6. routing / cache (already merged into `caller`)
    if routing:
        steps.append("routing:" + ",".join(f"{k}={v}" for k, v in routing.items()))
    if cache:
        steps.append("cache:" + ",".join(f"{k}={v}" for k, v in cache.items()))

    # 7. test-secrets
    master_key = _token("sk-test-master-")
    shape = load_stack_inputs(stack, secrets={"masterKey": master_key}, overrides=overrides).settings()
    alert_sink: Optional[AlertSink] = None
    stack_secrets: dict[str, str] = {"masterKey": master_key}
    for name in shape.referenced_env_vars():
        if name == "SLACK_WEBHOOK_URL":
            alert_sink = make(AlertSink, f"{prefix}:slack-webhook")  # type: ignore[assignment]
            stack_secrets[f"envSecrets.{name}"] = f"{alert_sink.base_url}/services/test"
        else:
            stack_secrets[f"envSecrets.{name}"] = _token("test-")
    inputs = load_stack_inputs(stack, secrets=stack_secrets, overrides=overrides)
    settings = inputs.settings()
    steps.append("test-secrets")

    # 8. render, as components.gateway / components.host do
    values: dict[str, str] = {
        "LITELLM_MASTER_KEY": settings.secrets.master_key.get_secret_value(),  # type: ignore[union-attr]
        "LITELLM_SALT_KEY": _token("sk-test-salt-"),
        "DATABASE_URL": f"postgresql://litellm:{secrets.token_hex(8)}@127.0.0.1:1/litellm",
        "REDIS_PASSWORD": redis.password or "",
    }
    for env_name, value in settings.secrets.env_secrets.items():
        values[env_name] = value.get_secret_value()
    if settings.secrets.ui_password is not None:  # adminUi on (dev): the Admin UI's own password
        values["UI_PASSWORD"] = settings.secrets.ui_password.get_secret_value()
    values = {k: v for k, v in values.items() if k in secret_env_names(settings)}
    config_yaml = render_litellm_config_yaml(settings)
    config = render_litellm_config(settings)
    env_text = render_env_file(settings, values)
    env = parse_env_file(env_text)
    args = proxy_args(settings)
    steps.append("render")

    # 9. program-cross-check (+ TLS material from the declared certificate)
    tls_files, tls_dir = _cross_check(stack, inputs, settings, config_yaml, env, args, prefix)
    steps.append("program-cross-check")

    # 10. without-database
    config, env, dropped = without_database(config, env)
    steps.append("without-database")

    return StackGateway(
        stack=stack,
        settings=settings,
        config=config,
        config_yaml=config_yaml,
        env=env,
        args=args,
        fakes=fakes,
        steps=steps,
        overrides={k: v for k, v in overrides.items()},
        dropped_database_settings=dropped,
        tls=tls_files,
        alert_sink=alert_sink,
        tls_dir=tls_dir,
        owned=owned,
    )


def _cross_check(stack, inputs, settings, config_yaml, env, args, prefix):
    """Run the real program under mocks with the same config; compare its host files with ours."""
    from offline.engine import run_program
    from tests.support import tls_material as tm

    import asyncio

    try:  # Pulumi's runtime needs a current event loop; asyncio.run() leaves none behind
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    run = run_program(stack, inputs.config, inputs.secret_keys)
    commands = [r for r in run.resources if r.type.startswith("command:")]  # local:Command or remote:Command
    config_cmd = [r for r in commands if r.name.endswith("-file-config")]
    env_cmd = [r for r in commands if r.name.endswith("-file-env")]
    if len(config_cmd) != 1 or len(env_cmd) != 1:
        raise AssertionError(
            f"stack {stack}: expected one host writing config.yaml and the env file, got "
            f"{[r.name for r in config_cmd + env_cmd]}"
        )
    if config_cmd[0].inputs.get("stdin") != config_yaml:
        raise AssertionError(f"stack {stack}: the config.yaml the host component writes differs from the one the test boots")
    program_env = parse_env_file(env_cmd[0].inputs.get("stdin") or "")
    if sorted(program_env) != sorted(env):
        raise AssertionError(f"stack {stack}: env file names differ: program {sorted(program_env)} vs test {sorted(env)}")
    # The command line: the systemd unit's ExecStart (ssh) or the local launcher (local).
    launch = " ".join(args)
    if not any(launch in str(r.inputs.get(k, "")) for r in commands for k in ("stdin", "create")):
        raise AssertionError(f"stack {stack}: no host command starts the proxy with proxy_args {args}")

    if not settings.tls.enabled:
        return None, None
    certs = [r for r in run.resources if r.type == TLS_COMPONENT]
    if len(certs) != 1:
        raise AssertionError(f"stack {stack}: expected one TlsCertificate, found {len(certs)}")
    declared = tm.declared_from_resources(run.resources, certs[0].urn)
    material = tm.build_material(declared)
    tls_dir = Path(tempfile.mkdtemp(prefix=f"stack-tls-{prefix.replace(':', '-')}-{uuid.uuid4().hex[:6]}-"))
    files = tm.write_material(material, tls_dir)
    return ProxyTls(cert_file=files.cert, key_file=files.key, ca_file=files.ca), tls_dir
