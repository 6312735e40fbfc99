"""`gcmx` subcommands for contract (being built)."""

COMMANDS: list = []
