#!/usr/bin/env bash
# Creates the project-local virtual environment VENV (on Debian's python3) with
# the Python packages the Python suite needs (python/requirements-test.txt),
# and points it at the build tree's package (BUILD/python) with a .pth file.
# Skips pip when the requirements have not changed since the last run.
# Usage: scripts/python_env.sh VENV BUILD
set -euo pipefail
venv=$1
build=$(cd "$2" 2>/dev/null && pwd || { mkdir -p "$2" && cd "$2" && pwd; })
root=$(cd "$(dirname "$0")/.." && pwd)
req=$root/python/requirements-test.txt
if [[ ! -x $venv/bin/python ]]; then
  /usr/bin/python3 -m venv "$venv"
fi
stamp=$venv/.requirements-test.txt
if ! cmp -s "$req" "$stamp"; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$build/python" > "$site/rlforge-build-tree.pth"
