#!/usr/bin/env bash
# The main job on one machine: the local hub, a simulated Create 3 and the bridge between them.
# Sets up the Kilted venv on first use (pip's output in .work/setup-kilted.log). Ctrl-C stops
# the bridge first, then the robot and the hub.
# Environment: DEMO_PORT (8000), DEMO_AGENT_ID (demo-create3), DEMO_SECONDS (0: run until
# Ctrl-C); ROS_DOMAIN_ID (42) and ROS_AUTOMATIC_DISCOVERY_RANGE (LOCALHOST) as set, else these;
# DEMO_PYTHON: a Python that has the dependencies and ROS already (no set-up then).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${DEMO_PYTHON:-}" ]; then
  python=$DEMO_PYTHON
else
  bash "$root/scripts/setup.sh" kilted
  python="$root/.venv/kilted/bin/python"
fi
port=${DEMO_PORT:-8000}
agent=${DEMO_AGENT_ID:-demo-create3}
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
# A domain of its own, seen from this computer only: never domain 0 beside real robots.
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-42}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export PYTHONUNBUFFERED=1
# Job control: each process gets a process group of its own, so that Ctrl-C in the terminal
# reaches this script alone, and the processes stop in the order cleanup() gives.
set -m

pids=()
stop() {  # SIGTERM, then SIGKILL after 10 s
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  # A second signal must not cut the cleanup short: make passes on a SIGTERM it gets, so a
  # SIGTERM to make's process group comes here twice; and a second Ctrl-C is common.
  trap '' INT TERM
  trap - EXIT
  # The bridge first, so that the hub sees its clean close (1001) and the bridge's last line
  # is not the hub going away; then the robot and the hub.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop "${pids[i]}"
  done
  echo "demo stopped"
}
trap cleanup EXIT INT TERM

"$python" -m artbot_bridge.devhub --port "$port" --verbose &
pids+=($!)
"$python" -m artbot_bridge.demo_robot --ros-args --log-level warn &
pids+=($!)
"$python" -m artbot_bridge --ros-args --params-file "$root/config/bridge.yaml" \
  -p "hub_url:=http://127.0.0.1:$port" -p "agent_id:=$agent" \
  -p heartbeat_interval:=5.0 -p monitor_interval:=2.0 &
pids+=($!)

cat <<INFO
== artbot_bridge demo: local hub http://127.0.0.1:$port, robot '$agent'
   dashboard:       http://127.0.0.1:$port/   (open it in a browser)
   robot records:   curl -s http://127.0.0.1:$port/api/robots
   send a command:  curl -s -X POST http://127.0.0.1:$port/api/robots/$agent/command \\
                      -H 'Content-Type: application/json' -d '{"action": "status"}'
   drive 0.5 s:     the same with -d '{"action": "drive", "parameters": {"speed": 0.3}}':
                      the lease ends it with a zero Twist unless another drive follows
   a late command:  the same URL with ?delay=5 (stamped 5 s ago, as after a stalled link):
                      answered expired, never run (the drive row's max_age is 1 s)
   ROS:             ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE
   Ctrl-C stops the bridge, the demo robot and the hub.
INFO

if [ "${DEMO_SECONDS:-0}" != 0 ]; then
  sleep "$DEMO_SECONDS"
else
  wait -n "${pids[@]}"
fi
