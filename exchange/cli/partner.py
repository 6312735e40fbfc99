"""`gcmx` subcommands for partner (being built)."""

COMMANDS: list = []
