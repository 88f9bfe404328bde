"""Stack configuration: the validated settings model, its loader, and the pure renderers."""
