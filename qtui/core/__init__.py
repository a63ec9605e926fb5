"""Headless core of qtui: profiles, models, data, artifacts, the LoadGen runner and results.

Nothing in this package imports Textual, Rich or a framework at module level.
"""
