"""`gcmx` subcommands for keys (being built)."""

COMMANDS: list = []
