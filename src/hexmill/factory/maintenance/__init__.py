"""Factory maintenance: maintenance orders, preventive plans and usage counters."""
