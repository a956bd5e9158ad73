"""Worksheet functions (UDFs) for Excel through xlwings; see `udfs.pecmass_udfs`."""
