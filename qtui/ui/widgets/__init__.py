"""Widgets of qtui's own: the latency histogram."""
