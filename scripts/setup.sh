#!/usr/bin/env bash
# Create (once) and update the project venv of one ROS 2 distro: .venv/<distro>.
# Usage: scripts/setup.sh kilted|jazzy
set -euo pipefail
distro=${1:?usage: setup.sh kilted|jazzy}
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv/$distro"
reqs="$root/requirements/$distro.txt"
[ -f "$reqs" ] || { echo "setup.sh: no $reqs" >&2; exit 2; }
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
stamp="$venv/.requirements.sha"
want=$(cat "$root"/requirements/common.txt "$reqs" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv with $("$python" --version)"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing $distro requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  (cd "$root/requirements" && "$venv/bin/python" -m pip install --quiet -r "$distro.txt")
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import rclpy, websockets, pydantic, psutil, aiohttp' \
  || { echo "setup.sh: the $distro venv is broken; remove $venv and retry" >&2; exit 1; }
