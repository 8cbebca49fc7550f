"""The ledger: an append-only, tamper-evident event log (RFC 6962 Merkle tree, signed checkpoints).

Import the parts directly (``andon.ledger.log``, ``andon.ledger.events``...); this package module
stays empty so importing one part does not load the others.
"""
