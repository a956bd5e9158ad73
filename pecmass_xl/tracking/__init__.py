"""Following sent PECs to their outcome: receipts turned into journal events and archived proof."""
