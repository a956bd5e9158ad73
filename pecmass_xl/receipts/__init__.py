"""PEC receipts: parse them, tell their outcome, verify their S/MIME signature.

Pure code, no server: `parse.parse_message` turns raw RFC 822 bytes into a `ParsedMessage`
(top-level PEC headers, `daticert.xml`, the delivery-status report of an anomaly envelope),
`outcome.classify` maps it to a journal event with its `Esito`, `signature.SignatureVerifier`
checks the provider's signature and its chain at the signing time; `rawmime` is the byte-exact MIME
reader both rely on. Modules are imported on demand (verification pulls in the crypto libraries).
"""
