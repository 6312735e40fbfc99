"""Cryptography: age encryption, minisign signatures and the party's keys."""
