"""Sub-commands of the leod CLI (see flows/cli.py)."""
