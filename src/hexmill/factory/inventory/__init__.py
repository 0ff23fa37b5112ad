"""Inventory ledger and traceability of the factory domain."""
