"""litellm-gateway: one LiteLLM gateway per stack. Load config, build the gateway, export outputs."""

import pulumi

from components.gateway import Gateway, GatewayArgs
from components.pulumi_source import load_stack_adoptions, load_stack_settings

settings = load_stack_settings()  # validated once, here; raises a ConfigError naming every problem
# A renamed environment (previousEnvironments) is an alias: the engine matches every resource to its
# old name (children by name prefix), so the rename is an in-place update (README, "Renames").
gateway = Gateway(
    f"litellm-{settings.environment}",
    GatewayArgs(settings=settings, adopt=load_stack_adoptions()),
    opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"litellm-{old}") for old in settings.previous_environments]),
)

pulumi.export("base_url", gateway.base_url)
pulumi.export("ui_url", gateway.ui_url)
pulumi.export("docs_url", gateway.docs_url)
pulumi.export("health_url", gateway.health_url)
pulumi.export("master_key", pulumi.Output.secret(gateway.master_key))
pulumi.export("models", settings.public_model_names)
if gateway.ca_bundle_pem is not None:
    pulumi.export("ca_bundle_pem", gateway.ca_bundle_pem)
if gateway.database_url is not None:
    pulumi.export("database_url", pulumi.Output.secret(gateway.database_url))
pulumi.export("keys", pulumi.Output.secret(gateway.key_values))
