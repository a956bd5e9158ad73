"""pecmass in Excel: the macro workbook built from text, the xlwings adapter, ribbon handlers, worker."""
