"""Small Python dialogs for the ribbon: the masked password prompt and the CSV file chooser.

The password is typed here, in Python, and goes straight to the keyring: it never passes through
VBA or the workbook. tkinter ships with the python.org installers for Windows and macOS; on Linux
it needs a display (tests run it under Xvfb).
"""

from __future__ import annotations

from pathlib import Path

TITLE = "PEC Massiva"


class PasswordDialog:
    """A modal window with one masked entry; `result` is the text, or None when cancelled."""

    def __init__(self, prompt: str, master=None):
        import tkinter as tk

        self.result: str | None = None
        self._own_root = master is None
        self.root = tk.Tk() if master is None else tk.Toplevel(master)
        self.root.title(TITLE)
        self.root.resizable(False, False)
        self.root.attributes("-topmost", True)  # above Excel, which started us
        frame = tk.Frame(self.root, padx=16, pady=12)
        frame.pack(fill="both", expand=True)
        tk.Label(frame, text=prompt, wraplength=360, justify="left").pack(anchor="w")
        self.entry = tk.Entry(frame, show="•", width=36)
        self.entry.pack(fill="x", pady=(8, 12))
        buttons = tk.Frame(frame)
        buttons.pack(anchor="e")
        tk.Button(buttons, text="Annulla", width=10, command=self.cancel).pack(side="right")
        tk.Button(buttons, text="Salva", width=10, command=self.accept, default="active").pack(side="right", padx=(0, 8))
        self.root.bind("<Return>", lambda _event: self.accept())
        self.root.bind("<Escape>", lambda _event: self.cancel())
        self.root.protocol("WM_DELETE_WINDOW", self.cancel)
        self.entry.focus_force()

    def accept(self) -> None:
        self.result = self.entry.get()
        self._close()

    def cancel(self) -> None:
        self.result = None
        self._close()

    def _close(self) -> None:
        self.entry.delete(0, "end")
        if self._own_root:
            self.root.quit()
        self.root.destroy()

    def run(self) -> str | None:
        if self._own_root:
            self.root.mainloop()
        else:
            self.root.wait_window()
        return self.result


def ask_password(prompt: str) -> str | None:
    """Show the masked prompt and wait; None when the user cancels or leaves it empty."""
    value = PasswordDialog(prompt).run()
    return value or None


def choose_csv(initial_dir: Path | None = None) -> Path | None:
    """The system's open-file dialog, for CSV files."""
    import tkinter as tk
    from tkinter import filedialog

    root = tk.Tk()
    root.withdraw()
    root.attributes("-topmost", True)
    try:
        name = filedialog.askopenfilename(
            parent=root, title=f"{TITLE}: scegliete il file CSV dei destinatari",
            initialdir=str(initial_dir) if initial_dir else None,
            filetypes=[("File CSV", "*.csv"), ("File di testo", "*.txt"), ("Tutti i file", "*.*")],
        )
    finally:
        root.destroy()
    return Path(name) if name else None
