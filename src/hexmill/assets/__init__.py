"""The asset domain: the ISA-95 hierarchy of sites, areas, lines and equipment, with types and tags."""
