"""Shipped devices resources (data files; see myostream.resources)."""
