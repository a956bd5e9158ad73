"""The terminal front: the `pecmass` command's argument parsing and output (entry point: `main`)."""
