"""Talking to the provider: TLS contexts, the SMTP submission session, read-only IMAP sessions."""
