"""The app's screens: setup (menus → profile), run (live), results (table, compare, study)."""
