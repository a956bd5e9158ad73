"""Sending a campaign: plan, freeze, hand over at the provider's pace, record every answer."""

# Here, not in `connection`, so that `pecmass send --help` can show it without loading SMTP.
CONNECT_BUDGET = 20.0  # seconds a whole send (or the ribbon's check) tries to reach the server
