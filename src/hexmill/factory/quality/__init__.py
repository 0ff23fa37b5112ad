"""Factory quality: inspection plans, inspections and results, nonconformances and dispositions."""
