"""Purchasing: purchase orders to suppliers and the receipts that bring their goods into stock."""
