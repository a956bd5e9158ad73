"""The application layer: every user action as one use case, shared by the CLI and the ribbon."""
