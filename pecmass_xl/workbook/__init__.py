"""The workbook: its contract, reading and writing the file, styles, the Riepilogo sheet, CSV import."""
