#!/usr/bin/env bash
# Create (once) and update the venv of one test lane: .venv/<lane>.
# Usage: scripts/setup.sh jazzy|humble|kilted
#   jazzy   Jazzy's ros-jazzy-* wheels on Python 3.12, as on Ubuntu 24.04 (the main lane)
#   humble  the same wheels on Python 3.10, Humble's (Ubuntu 22.04), with the bridge's imports
#           held to Humble's rclpy (test/humble_api.py, docs/humble.md)
#   kilted  Kilted's ros-* wheels (rclpy 9, the newest rclpy API) on Python 3.11
# pip's output goes to .work/setup-<lane>.log; the script prints one line (and the log's tail
# when pip fails). Environment: ARTBOT_PYTHON_3_10 (3_11, 3_12) names an interpreter;
# ARTBOT_ROS_CLI_WHEELS the wheelhouse of the ros2 and launch tools; ARTBOT_REQUIRE_LAUNCH=1
# makes a missing wheelhouse an error.
set -euo pipefail
lane=${1:?usage: setup.sh jazzy|humble|kilted}
root=$(cd "$(dirname "$0")/.." && pwd)
case $lane in
  jazzy) distro=jazzy want=3.12 ;;
  humble) distro=jazzy want=3.10 ;;
  kilted) distro=kilted want=3.11 ;;
  *) echo "setup.sh: no lane '$lane' (jazzy, humble or kilted)" >&2; exit 2 ;;
esac
venv="$root/.venv/$lane"
reqs="$root/requirements/$distro.txt"
log="$root/.work/setup-$lane.log"
started=$SECONDS

version_of() {  # the major.minor version of a Python, empty if it does not run
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

find_python() {  # the first Python $want found: named, on PATH, then pyenv's, newest first
  local named="ARTBOT_PYTHON_${want/./_}" candidate
  local pyenv=${PYENV_ROOT:-$HOME/.pyenv}
  for candidate in ${!named:-} "python$want" \
      $(ls -d "$pyenv/versions/$want".*/bin/python"$want" 2>/dev/null | sort -rV) \
      "/usr/bin/python$want" "/usr/local/bin/python$want"; do
    if [ "$(version_of "$candidate")" = "$want" ]; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

# launch, launch_ros and ros2cli (`ros2 launch`, `ros2 topic`, ...) are on no PyPI registry:
# they come as wheels built from their public sources, in shared/ beside the checkout.
# Without them the bridge, the demo and every test but the launch tests still run.
wheels=${ARTBOT_ROS_CLI_WHEELS:-$root/../shared/ros-cli-wheels}
cli=yes
[ -f "$wheels/requirements-ros2cli.txt" ] && [ -d "$wheels/wheels" ] || cli=
if [ -z "$cli" ] && [ "${ARTBOT_REQUIRE_LAUNCH:-0}" = 1 ]; then
  echo "setup.sh: no ROS 2 CLI wheels in $wheels (requirements-ros2cli.txt and wheels/);" \
       "put shared/ros-cli-wheels beside the checkout or set ARTBOT_ROS_CLI_WHEELS" >&2
  exit 2
fi

have=
[ -x "$venv/bin/python" ] && have=$(version_of "$venv/bin/python")
if [ "$have" != "$want" ]; then
  python=$(find_python) || {
    echo "setup.sh: lane $lane needs Python $want, and none was found (ARTBOT_PYTHON_${want/./_}," \
         "python$want on PATH, ${PYENV_ROOT:-$HOME/.pyenv}/versions/$want.*, /usr/bin)" >&2
    exit 2
  }
fi

stamp="$venv/.requirements.sha"
want_sha=$( { echo "$lane $want"; cat "$root"/requirements/common.txt "$reqs"
              [ "$lane" != humble ] || cat "$root/test/humble_api.py"
              [ -z "$cli" ] || { cat "$wheels/requirements-ros2cli.txt"
                                 (cd "$wheels/wheels" && sha256sum -- *.whl); }
            } | sha256sum | cut -d' ' -f1)
summary() {  # the one line: what the venv holds
  "$venv/bin/python" - "$lane" "$1" "${cli:+yes}" <<'PY'
import platform, sys
from importlib.metadata import version
lane, what, cli = sys.argv[1:]
tools = 'ros2 and launch tools' if cli else 'no ros2 or launch tools (no wheelhouse)'
print(f'== {lane}: {what} (Python {platform.python_version()}, rclpy {version("ros-rclpy")}, '
      f'{tools})')
PY
}

if [ "$have" = "$want" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_sha" ]; then
  summary ".venv/$lane up to date"
  exit 0
fi

mkdir -p "$root/.work"
: > "$log"
run() {  # run a set-up step with its output in the log; on failure show the log's tail
  echo "+ $*" >> "$log"
  if ! "$@" >> "$log" 2>&1; then
    echo "setup.sh: $lane: failed: $*; the last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}
if [ "$have" != "$want" ]; then
  rm -rf "$venv"
  run "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)
run "${pip[@]}" install --upgrade pip
(cd "$root/requirements" && run "${pip[@]}" install -r "$distro.txt")
if [ -n "$cli" ]; then
  # --no-index: PyPI has unrelated projects with some of these names (`launch`).
  if [ "$want" = 3.11 ]; then
    run "${pip[@]}" install --no-index --find-links "$wheels/wheels" \
      -r "$wheels/requirements-ros2cli.txt"
  else
    # composition_interfaces is built for CPython 3.11 only. launch_ros imports its Python
    # modules, and only a composable node, which cannot run here anyway, would load its C
    # parts; so the Jazzy build goes in as it is.
    grep -v '^ros-composition-interfaces' "$wheels/requirements-ros2cli.txt" \
      > "$venv/requirements-ros2cli.txt"
    run "${pip[@]}" install --no-index --find-links "$wheels/wheels" \
      -r "$venv/requirements-ros2cli.txt"
    built=$(ls "$wheels"/wheels/ros_composition_interfaces-2.0.*-cp311-*.whl | tail -n 1)
    tagged=$(mktemp -d)
    cp "$built" "$tagged/$(basename "$built" | sed 's/-cp311-cp311-linux_x86_64/-py3-none-any/')"
    run "${pip[@]}" install --no-index --no-deps --ignore-requires-python "$tagged"/*.whl
    rm -rf "$tagged"
  fi
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ "$lane" = humble ]; then
  # Every Python of this venv holds the bridge's imports to Humble's rclpy.
  cp "$root/test/humble_api.py" "$site/artbot_humble_api.py"
  echo 'import artbot_humble_api' > "$site/artbot_humble_api.pth"
fi
"$venv/bin/python" -c "import rclpy, websockets, pydantic, psutil, aiohttp${cli:+, launch_ros}" \
  >> "$log" 2>&1 || {
    echo "setup.sh: the $lane venv is broken (see $log); remove $venv and retry" >&2
    exit 1
  }
echo "$want_sha" > "$stamp"
summary "set up .venv/$lane in $((SECONDS - started)) s, pip's output in .work/setup-$lane.log"
