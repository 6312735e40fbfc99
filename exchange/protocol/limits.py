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

# Parquet read after decryption: the file is the signed sender's, but a partner with valid
# keys could still send a decompression bomb. Its footer is checked against these before
# any data page is read.
MIB = 1024 * KIB
GIB = 1024 * MIB
PARQUET_FOOTER_MAX = 16 * MIB            # the Thrift file metadata at the end of the file
PARQUET_ROW_GROUPS_MAX = 4096            # publish writes 256 Ki rows per group
PARQUET_COLUMNS_MAX = 1024               # contracts have tens of columns
PARQUET_EXPANSION_MAX = 64               # uncompressed size / file size: zstd on real data stays far below
PARQUET_UNCOMPRESSED_MAX = 16 * GIB      # absolute cap on the declared uncompressed size
EXCHANGE_MAX = 64 * GIB                  # signed ciphertext or plaintext size: a partner cannot fill the disk
PARQUET_DECODED_ROW_MAX = 4 * KIB        # decoded bytes per signed row: real rows are well under 1 KiB
