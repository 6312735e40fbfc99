"""The tamper-evident audit trail: the log, its hash chain, checkpoints, alarms."""
