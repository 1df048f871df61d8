"""Streaming: the Source protocol and sources, ring buffer, causal filters, windows, realtime pipeline."""
