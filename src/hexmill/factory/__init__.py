"""The factory domain: master data, orders, work orders, inventory and quality, one sub-package each."""
