#!/usr/bin/env bash
# The main job on one machine: the local hub, a simulated Create 3 and the bridge between them.
# Sets up the Kilted venv on first use. Ctrl-C stops everything.
# Environment: DEMO_PORT (8000), DEMO_AGENT_ID (demo-create3), DEMO_SECONDS (0: run until Ctrl-C)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" kilted
python="$root/.venv/kilted/bin/python"
port=${DEMO_PORT:-8000}
agent=${DEMO_AGENT_ID:-demo-create3}
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export PYTHONUNBUFFERED=1

pids=()
cleanup() {
  trap - EXIT INT TERM
  # The bridge first, so the hub sees its clean close (1001); then the robot and the hub.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
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
   Ctrl-C stops the hub, the demo robot and the bridge.
INFO

if [ "${DEMO_SECONDS:-0}" != 0 ]; then
  sleep "$DEMO_SECONDS"
else
  wait -n "${pids[@]}"
fi
