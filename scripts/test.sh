#!/usr/bin/env bash
# Build and test the package on each test lane the way users' CI does:
# colcon build, colcon test, then gate on colcon test-result (colcon test alone exits 0).
# Usage: scripts/test.sh [jazzy] [humble] [kilted]   (default: all three; scripts/setup.sh
# says what each lane is). The closing lines give each lane's counts and time, and every
# skipped test with its reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lanes=("$@")
[ ${#lanes[@]} -gt 0 ] || lanes=(jazzy humble kilted)
started=$SECONDS
# Every lane's venv first: a missing interpreter stops the run before any test.
for lane in "${lanes[@]}"; do
  bash "$root/scripts/setup.sh" "$lane"
done
# The dashboard's browser tests need Debian's chromium; here they must run, not skip.
bash "$root/scripts/browser.sh"
export ARTBOT_REQUIRE_BROWSER=1
# One DDS domain per lane of this run, and no discovery traffic beyond loopback.
first_domain=${ROS_DOMAIN_ID:-$(( $$ % 80 + 10 ))}
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
setup_time=$((SECONDS - started))
results="$root/.work/lanes.tsv"
: > "$results"

daemon_running() {  # whether a ros2 daemon answers on this lane's domain
  [ -x "$1/bin/ros2" ] || return 1
  AMENT_PREFIX_PATH="$1" "$1/bin/ros2" daemon status 2>/dev/null | grep -q 'is running'
}

status=0
index=0
for lane in "${lanes[@]}"; do
  export ROS_DOMAIN_ID=$(( first_domain + index ))
  index=$((index + 1))
  venv="$root/.venv/$lane"
  work="$root/.work/$lane"
  colcon=("$venv/bin/colcon")
  lane_started=$SECONDS
  mkdir -p "$work"
  daemon_before=
  daemon_running "$venv" && daemon_before=yes
  echo "== $lane: colcon build"
  (cd "$root" && "${colcon[@]}" --log-base "$work/log" build --base-paths . \
     --build-base "$work/build" --install-base "$work/install" --event-handlers console_direct-)
  echo "== $lane: colcon test (ROS_DOMAIN_ID=$ROS_DOMAIN_ID)"
  rm -rf "$work/build/artbot_bridge/pytest.xml" "$work/build/artbot_bridge/test_results"
  (cd "$root" && "${colcon[@]}" --log-base "$work/log" test --base-paths . \
     --build-base "$work/build" --install-base "$work/install" \
     --event-handlers console_direct+ --pytest-args -ra -s) || true
  echo "== $lane: colcon test-result"
  result=passed
  if ! "${colcon[@]}" test-result --test-result-base "$work/build" --verbose; then
    result=failed
  elif ! grep -qs '<testcase' "$work/build/artbot_bridge/pytest.xml"; then
    echo "== $lane: no test ran (no pytest.xml with a test case)"
    result=failed
  fi
  # The tests stop the ros2 daemon they started; one still running is a failure.
  if [ -z "$daemon_before" ] && daemon_running "$venv"; then
    AMENT_PREFIX_PATH="$venv" "$venv/bin/ros2" daemon stop >/dev/null 2>&1 || true
    echo "== $lane: the tests left a ros2 daemon running on domain $ROS_DOMAIN_ID (stopped now)"
    result=failed
  fi
  [ "$result" = passed ] || { echo "== $lane: FAILED"; status=1; }
  python=$("$venv/bin/python" -c 'import platform; print(platform.python_version())')
  rclpy=$("$venv/bin/python" -c 'from importlib.metadata import version
print(version("ros-rclpy"))')
  printf '%s\t%s\t%s\t%s\t%s\n' "$lane" "$((SECONDS - lane_started))" "$result" "$python" \
    "$rclpy" >> "$results"
done

# The closing lines, from the JUnit files colcon test wrote.
"$root/.venv/${lanes[0]}/bin/python" - "$root/.work" "$results" "$setup_time" \
  "$((SECONDS - started))" <<'PY'
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

work, results, setup_time, whole = Path(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:])
NOTE = {'humble': " (the bridge's imports held to Humble's rclpy)"}


def minutes(seconds):
    return f'{seconds // 60}m{seconds % 60:02d}s'


lines, skips = [], defaultdict(lambda: defaultdict(list))
total = {'passed': 0, 'failed': 0, 'skipped': 0}
for row in open(results).read().splitlines():
    lane, seconds, result, python, rclpy = row.split('\t')
    counts = {'tests': 0, 'failed': 0, 'skipped': 0}
    for xml in (work / lane / 'build').glob('*/pytest.xml'):
        root = ET.parse(xml).getroot()
        for case in root.iter('testcase'):
            counts['tests'] += 1
            if case.find('failure') is not None or case.find('error') is not None:
                counts['failed'] += 1
            skipped = case.find('skipped')
            if skipped is not None:
                counts['skipped'] += 1
                where = case.get('classname', '').split('.')[-1] + '.py'
                reason = ' '.join((skipped.get('message') or '').split())
                skips[reason][where].append((lane, case.get('name')))
    passed = counts['tests'] - counts['failed'] - counts['skipped']
    if result == 'failed' and not counts['failed']:
        counts['failed'] = 1  # a lane that failed outside its tests (a daemon left running)
    for key, value in (('passed', passed), ('failed', counts['failed']),
                       ('skipped', counts['skipped'])):
        total[key] += value
    lines.append(f'== {lane:<7} Python {python:<8} rclpy {rclpy}{NOTE.get(lane, "")}: '
                 f'{passed} passed, {counts["failed"]} failed, {counts["skipped"]} skipped '
                 f'in {minutes(int(seconds))}')
if skips:
    print('== skipped, and why:')
    for reason, files in skips.items():
        for where, cases in files.items():
            lanes = ', '.join(dict.fromkeys(lane for lane, _ in cases))
            names = {name for _, name in cases}
            what = f'{where}::{names.pop()}' if len(names) == 1 else \
                f'{where} ({len(names)} tests)'
            print(f'   {what} on {lanes}: {reason}')
print('\n'.join(lines))
print(f'== the whole run took {minutes(whole)} (set-up {minutes(setup_time)})')
print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
PY
exit $status
