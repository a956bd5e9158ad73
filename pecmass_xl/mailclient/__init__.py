"""Client side of the provider (not a server): TLS contexts, the SMTP submission session, read-only IMAP sessions."""
