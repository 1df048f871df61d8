"""Shipped models resources (data files; see myostream.resources)."""
