"""The application layer: every user action as one use case, shared by the CLI and the ribbon.

new, import_list, check, preview, trial (test send), send (and resend), receipts, control (status,
stop), report, archive, mailbox (connection check, password), demo, template (build-template).
The fronts parse input and present results; they talk to a use case through `ui.Ui`, and start
background work only through `background`. Use cases see a workbook only as a
`workbook.gateway.WorkbookGateway`.
"""
