"""The exchange protocol: wire naming, manifest, outbound, inbound, receipts."""
