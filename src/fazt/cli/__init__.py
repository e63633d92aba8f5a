"""The `fazt` command line: one module per command group."""
