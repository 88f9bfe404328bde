"""Stack configuration: the validated settings, one module per section, their checks and the loader.
Pure: no Pulumi import, and nothing from `rendering`, `components` or `offline`."""
