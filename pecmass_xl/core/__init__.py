"""Foundations every layer may use: errors and exit codes, per-user paths, logging, the user's vocabulary, Rome time."""
