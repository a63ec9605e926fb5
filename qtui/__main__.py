"""`python -m qtui` entry point."""

from qtui.cli import main

if __name__ == "__main__":
    main()
