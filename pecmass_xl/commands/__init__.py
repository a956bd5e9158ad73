"""Subcommand groups of the `pecmass` command (see pecmass_xl.cli)."""
