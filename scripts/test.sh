#!/usr/bin/env bash
# Build and test the package on each ROS 2 distro the way users' CI does:
# colcon build, colcon test, then gate on colcon test-result (colcon test alone exits 0).
# Usage: scripts/test.sh [kilted] [jazzy]   (default: both)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
distros=("$@")
[ ${#distros[@]} -gt 0 ] || distros=(kilted jazzy)
# One DDS domain per test run, and no discovery traffic beyond loopback.
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( $$ % 90 + 10 ))}
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
status=0
for distro in "${distros[@]}"; do
  bash "$root/scripts/setup.sh" "$distro"
  work="$root/.work/$distro"
  colcon=("$root/.venv/$distro/bin/colcon")
  mkdir -p "$work"
  echo "== $distro: colcon build"
  (cd "$root" && "${colcon[@]}" --log-base "$work/log" build --base-paths . \
     --build-base "$work/build" --install-base "$work/install" --event-handlers console_direct-)
  echo "== $distro: colcon test (ROS_DOMAIN_ID=$ROS_DOMAIN_ID)"
  rm -rf "$work/build/artbot_bridge/pytest.xml" "$work/build/artbot_bridge/test_results"
  (cd "$root" && "${colcon[@]}" --log-base "$work/log" test --base-paths . \
     --build-base "$work/build" --install-base "$work/install" \
     --event-handlers console_direct+ --pytest-args -ra) || true
  echo "== $distro: colcon test-result"
  if ! "${colcon[@]}" test-result --test-result-base "$work/build" --verbose; then
    echo "== $distro: FAILED"
    status=1
  fi
done
exit $status
