"""What a ribbon button and `pecmass --help` cost in imports, measured with `python -X importtime`.

    .venv/bin/python benchmarks/bench_import.py [--runs 5] [--json]

Excel stays frozen while a button's Python starts, so the module a button imports
(`pecmass_xl.excel.handlers`) must add at most 0.15 s to Python's own start, not counting
`import xlwings` itself (which pulls in pandas and matplotlib when the user's Python has them: hence
the dedicated virtual environment in the README). For each target, every run starts a fresh
interpreter with `-X importtime` and sums the cumulative time of the target's top-level import,
minus the cumulative time of xlwings and its own imports when they happen inside it. The cost of what a button then imports when it runs (its action in
`ribbon_actions`, which imports each button's use case only when that button runs) is printed too,
for information. The median of
the runs is printed, with the largest imports of the last run; also the wall-clock time of a bare
`python -c pass` and of each command, for reference.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.15
TARGETS = {
    "import pecmass_xl.excel.handlers": "import pecmass_xl.excel.handlers",
    # what RunPython runs: xlwings.utils first (prepare_sys_path), then our module
    "handlers after xlwings (RunPython)": "import xlwings.utils\nimport pecmass_xl.excel.handlers",
    "the ribbon's actions module (ribbon_actions)": "import pecmass_xl.excel.ribbon_actions",
    # each button then imports only its own use case, when it runs: the lightest and the heaviest
    "Verifica's use case (check)": "import pecmass_xl.excel.ribbon_actions\nimport pecmass_xl.app.check",
    "Invia's use case (send)": "import pecmass_xl.excel.ribbon_actions\nimport pecmass_xl.app.send",
    "pecmass --help": "import sys; sys.argv = ['pecmass', '--help']\n"
                      "from pecmass_xl.cli.main import main\n"
                      "try:\n    main()\nexcept SystemExit:\n    pass",
}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(code: str) -> tuple[float, float, list[tuple[float, str]]]:
    """(seconds of our imports, seconds of xlwings within them, largest cumulative imports)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          timeout=120)
    entries = []
    for line in done.stderr.splitlines():
        found = LINE.match(line)
        if found:
            entries.append((int(found.group(2)) / 1e6, len(found.group(3)), found.group(4)))
    ours = sum(cum for cum, depth, name in entries if depth == 1 and not name.startswith(("encodings", "site")))
    xlwings = sum(cum for cum, _depth, name in entries if name == "xlwings")
    largest = sorted(((cum, name) for cum, _d, name in entries if name.startswith("pecmass_xl")), reverse=True)[:5]
    return ours, xlwings, largest


def wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bare = statistics.median(wall("pass") for _ in range(args.runs))
    results = {}
    for label, code in TARGETS.items():
        samples = [importtime(code) for _ in range(args.runs)]
        own = statistics.median(ours - xl for ours, xl, _ in samples)
        results[label] = {
            "imports_s": round(own, 3),
            "xlwings_s": round(statistics.median(xl for _o, xl, _ in samples), 3),
            "wall_s": round(statistics.median(wall(code) for _ in range(args.runs)), 3),
            "largest": [(round(s, 3), n) for s, n in samples[-1][2]],
            "target_met": own <= TARGET_SECONDS if "use case" not in label else None,
        }
    if args.json:
        print(json.dumps({"python_start_s": round(bare, 3), "targets": results}, indent=2))
        return 0
    print(f"Python start (python -c pass): {bare:.3f} s wall; target: imports ≤ {TARGET_SECONDS} s beyond it, "
          "xlwings excluded")
    for label, r in results.items():
        verdict = {True: "met", False: "MISSED", None: "no target"}[r["target_met"]]
        print(f"{label:36} imports {r['imports_s']:.3f} s (xlwings {r['xlwings_s']:.3f} s excluded), "
              f"wall {r['wall_s']:.3f} s — {verdict}")
        for seconds, name in r["largest"]:
            print(f"    {seconds:.3f} s  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
