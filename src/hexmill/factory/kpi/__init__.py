"""Factory KPIs: lead time, on-time delivery, delivery cycle, defect and scrap rates, turns, labour per unit."""
