"""pecmass-xl: mass, personalised PEC sent straight from an Excel sheet."""

__version__ = "0.1.0"
