"""`gcmx` subcommands for protect (being built)."""

COMMANDS: list = []
