"""Pure renderers: validated settings in, the text of a file, a script or a manifest out. No Pulumi."""
