"""The pass scheme: CWT claims in deterministic CBOR, signed as COSE_Sign1, Base45 with a prefix.

Pure and small: no web framework and no database, so the offline verifier, the CLI and the
browser's twin share one definition (docs/pass-format.md).
"""
