"""Factory master data: units, items, parties, bills of materials, routings and work centres."""
