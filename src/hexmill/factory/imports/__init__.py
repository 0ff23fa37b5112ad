"""Factory imports: spreadsheets (CSV, .xlsx) of master data, opening stock and open orders.

A file is checked whole first, then imported all-or-nothing.
"""
