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
# The dashboard's browser tests need Debian's chromium; here they must run, not skip.
bash "$root/scripts/browser.sh"
export ARTBOT_REQUIRE_BROWSER=1
# The launch tests need the ROS 2 CLI wheels that setup.sh installs: they must run too, and
# setup.sh refuses to go on without the wheels.
export ARTBOT_REQUIRE_LAUNCH=1
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
     --event-handlers console_direct+ --pytest-args -ra -s) || true
  echo "== $distro: colcon test-result"
  if ! "${colcon[@]}" test-result --test-result-base "$work/build" --verbose; then
    echo "== $distro: FAILED"
    status=1
  fi
done
# One closing line over every distro, from the JUnit files colcon test wrote.
python3 - "$root/.work" "${distros[@]}" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
work, distros = Path(sys.argv[1]), sys.argv[2:]
total = failed = skipped = 0
for distro in distros:
    for xml in (work / distro / 'build').glob('*/pytest.xml'):
        root = ET.parse(xml).getroot()
        for suite in ([root] if root.tag == 'testsuite' else root.iter('testsuite')):
            total += int(suite.get('tests', 0))
            failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
            skipped += int(suite.get('skipped', 0))
print(f'total: {total - failed - skipped} passed, {failed} failed, {skipped} skipped')
PY
exit $status
