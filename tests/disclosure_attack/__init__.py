"""An independent disclosure auditor: the recipient's LP attack on published tables.

Written from the shared publication rule and attacker model (issue 12, SPEC-disclosure),
deliberately without importing the production audit or suppression code: the only
production entry point these tests use is the public ``exchange.disclosure.protect``.
"""
