"""Factory sales: quotations, sales orders, deliveries and returns."""
