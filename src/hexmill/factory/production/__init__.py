"""Factory production: work orders with BOM and routing snapshots, operations and shop-floor reports."""
