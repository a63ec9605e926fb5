"""The Textual terminal UI of qtui (the core in `qtui.core` never imports it)."""
