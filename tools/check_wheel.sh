#!/bin/sh
# The install path of README "Installing", checked end to end on this machine: build the wheel with
# `python -m build`, install it into a fresh virtual environment (no editable install, no checkout on
# the path), then run `pecmass --help`, `pecmass excel verifica` and the demo from that environment.
#
#     sh tools/check_wheel.sh            (from the repository root)
set -eu
rm -rf build  # setuptools' staging folder: a stale copy would put deleted modules into the wheel
out=$(mktemp -d "${TMPDIR:-/tmp}/pecmass-wheel.XXXXXX")
python3 -m venv "$out/build-venv"
"$out/build-venv/bin/pip" install -q build
"$out/build-venv/bin/python" -m build --wheel --outdir "$out/dist" .
python3 -m venv "$out/venv"
"$out/venv/bin/pip" install -q "$out"/dist/pecmass_xl-*.whl
cd "$out"
"$out/venv/bin/pecmass" --help
"$out/venv/bin/pecmass" excel verifica || true   # on Linux: nothing to check, exit 2
PECMASS_DATA_DIR="$out/data" "$out/venv/bin/pecmass" demo --dir "$out/demo"
echo "OK: $(ls "$out"/dist) installs and runs ($out)"
