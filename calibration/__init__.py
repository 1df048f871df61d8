"""Shipped calibration resources (data files; see myostream.resources)."""
