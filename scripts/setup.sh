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
# launch, launch_ros and ros2cli (`ros2 launch`, `ros2 topic`, ...) are on no PyPI registry:
# they come as wheels built from their public sources, in shared/ beside the checkout.
# The bridge and the demo run without them; the tests (ARTBOT_REQUIRE_LAUNCH=1) need them.
wheels=${ARTBOT_ROS_CLI_WHEELS:-$root/../shared/ros-cli-wheels}
cli=yes
[ -f "$wheels/requirements-ros2cli.txt" ] && [ -d "$wheels/wheels" ] || cli=
if [ -z "$cli" ] && [ "${ARTBOT_REQUIRE_LAUNCH:-0}" = 1 ]; then
  echo "setup.sh: no ROS 2 CLI wheels in $wheels (requirements-ros2cli.txt and wheels/);" \
       "put shared/ros-cli-wheels beside the checkout or set ARTBOT_ROS_CLI_WHEELS" >&2
  exit 2
fi
[ -n "$cli" ] || echo "setup.sh: no ROS 2 CLI wheels in $wheels: ros2 launch is not installed"
stamp="$venv/.requirements.sha"
want=$( { cat "$root"/requirements/common.txt "$reqs"
          [ -z "$cli" ] || { cat "$wheels/requirements-ros2cli.txt"
                             (cd "$wheels/wheels" && sha256sum -- *.whl); }
        } | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv with $("$python" --version)"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing $distro requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  (cd "$root/requirements" && "$venv/bin/python" -m pip install --quiet -r "$distro.txt")
  # --no-index: PyPI has unrelated projects with some of these names (`launch`).
  [ -z "$cli" ] || "$venv/bin/python" -m pip install --quiet --no-index \
    --find-links "$wheels/wheels" -r "$wheels/requirements-ros2cli.txt"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c "import rclpy, websockets, pydantic, psutil, aiohttp${cli:+, launch_ros}" \
  || { echo "setup.sh: the $distro venv is broken; remove $venv and retry" >&2; exit 1; }
