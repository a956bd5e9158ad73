"""A campaign's content: settings, presets, templates, checks, addresses, attachments, the MIME message."""
