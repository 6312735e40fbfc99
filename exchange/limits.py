"""Size limits on everything read from a bucket before its signature is verified.

A leaked bucket key lets anyone plant objects; a reader must never hold more of an
unauthenticated object in memory than the largest genuine one could be. Each limit
is generous for the real thing and small enough to be harmless.
"""

from __future__ import annotations

KIB = 1024

MANIFEST_MAX = 256 * KIB       # a manifest: hashes, counts, validation and disclosure summaries
SIGNATURE_MAX = 4 * KIB        # a minisign signature with its trusted comment
RECEIPT_MAX = 256 * KIB        # a receipt: status, reason and the validation summary
CHECKPOINT_MAX = 64 * KIB      # a signed head of an audit log
STATEMENT_MAX = 64 * KIB       # any other small signed statement (index, rotation, deletion)
