"""Sending a campaign: plan, freeze, hand over at the provider's pace, record every answer."""
