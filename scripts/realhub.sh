#!/usr/bin/env bash
# Run the bridge against the real Artbot Control Hub backend on loopback and check it:
# the hub (uvicorn, its own venv), the demo robot and the bridge, then scripts/realhub_check.py.
# Usage: scripts/realhub.sh HUB_CHECKOUT [CHECKER_OPTION...]
#   HUB_CHECKOUT: a checkout of github itsjustmahmoud/artbot-control-hub; checker options
#   (scripts/realhub_check.py --help) are passed on, e.g. --restarts 5 --samples 20.
# Environment:
#   REALHUB_AGENT_ID   agent id of the bridge (realhub-bot)
#   REALHUB_PYTHON     python that makes the hub's venv (python3.11, else python3)
#   REALHUB_BRIDGE_SRC directory whose artbot_bridge/ and config/bridge.yaml are run (this
#                      checkout); for trying a copy of the bridge
#   REALHUB_DOMAIN_ID  ROS_DOMAIN_ID of the run (100 + pid % 100)
#   ADMIN_PASSWORD     the hub's operator password (admin123, the hub's default)
# State and logs: .work/realhub/ (hub.log, robot.log, bridge.log, report.txt, venv/).
set -euo pipefail
started=$SECONDS
root=$(cd "$(dirname "$0")/.." && pwd)
hub=$(cd "${1:?usage: realhub.sh HUB_CHECKOUT [CHECKER_OPTION...]}" && pwd)
shift
[ -f "$hub/backend/requirements.txt" ] && [ -f "$hub/backend/app/main.py" ] \
  || { echo "realhub.sh: $hub is not a checkout of the hub (no backend/app/main.py)" >&2; exit 2; }
src=$(cd "${REALHUB_BRIDGE_SRC:-$root}" && pwd)
[ -f "$src/artbot_bridge/__main__.py" ] \
  || { echo "realhub.sh: no artbot_bridge package in $src" >&2; exit 2; }
params="$src/config/bridge.yaml"
[ -f "$params" ] || params="$root/config/bridge.yaml"
agent=${REALHUB_AGENT_ID:-realhub-bot}
work="$root/.work/realhub"
mkdir -p "$work"
exec 9> "$work/lock"
flock -n 9 || { echo "realhub.sh: another run is using $work" >&2; exit 1; }

# The hub's own venv, from its own requirements; reused while their hash is unchanged.
hub_venv="$work/venv"
hub_python="$hub_venv/bin/python"
maker=${REALHUB_PYTHON:-python3.11}
command -v "$maker" >/dev/null || maker=python3
want=$( (cat "$hub/backend/requirements.txt"; echo websockets; "$maker" --version) \
  | sha256sum | cut -d' ' -f1)
if [ ! -x "$hub_python" ]; then
  echo "== creating $hub_venv with $("$maker" --version)"
  "$maker" -m venv "$hub_venv"
fi
if [ "$(cat "$hub_venv/.requirements.sha" 2>/dev/null)" != "$want" ]; then
  echo "== installing the hub's requirements into $hub_venv"
  "$hub_python" -m pip install --quiet -r "$hub/backend/requirements.txt" websockets
  echo "$want" > "$hub_venv/.requirements.sha"
  echo "== the hub's venv is ready ($((SECONDS - started)) s)"
fi
"$hub_python" -c 'import fastapi, uvicorn, websockets, pydantic_settings, jwt' \
  || { echo "realhub.sh: the hub venv is broken; remove $hub_venv and retry" >&2; exit 1; }

# The project's Kilted venv: made by scripts/setup.sh on first use. An existing one is used as
# it is (scripts/setup.sh updates it), so this never runs a setup beside another one.
python="$root/.venv/kilted/bin/python"
[ -x "$python" ] || bash "$root/scripts/setup.sh" kilted
"$python" -c 'import rclpy, std_msgs.msg, aiohttp, websockets, psutil, pydantic' \
  || { echo "realhub.sh: $root/.venv/kilted is incomplete; run scripts/setup.sh kilted" >&2
       exit 1; }

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])')
hub_url="http://127.0.0.1:$port"
export ROS_DOMAIN_ID=${REALHUB_DOMAIN_ID:-$(( $$ % 100 + 100 ))}
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOG_DIR="$work/ros-log"
export PYTHONUNBUFFERED=1
# The bridge reads these over its parameters; this run sets its parameters only.
unset HUB_URL AGENT_ID HEARTBEAT_INTERVAL MONITOR_INTERVAL HUB_TOKEN
hub_log="$work/hub.log" pidfile="$work/hub.pid" stopfile="$work/hub.stop"
ready="$work/check.ready" bridge_started="$work/bridge.started" proxy_port="$work/proxy.port"
rm -f "$pidfile" "$stopfile" "$ready" "$bridge_started" "$proxy_port" "$work/report.txt" \
  "$work/bridge.pid"
: > "$hub_log"

# The hub runs under a small supervisor: whenever uvicorn exits (the checker kills it to
# restart the hub), it starts again on the same port. hub.pid holds the running uvicorn's pid.
max_starts=32  # more than any --restarts a run asks for
supervise_hub() {
  local n=0
  while [ "$n" -lt "$max_starts" ] && [ ! -e "$stopfile" ]; do
    n=$((n + 1))
    echo "== hub start $n at $(date -u +%FT%T.%N)" >> "$hub_log"
    (cd "$hub/backend" && exec "$hub_python" -m uvicorn app.main:app --host 127.0.0.1 \
      --port "$port") >> "$hub_log" 2>&1 &
    echo $! > "$pidfile.new" && mv "$pidfile.new" "$pidfile"
    wait $! || true
    sleep 0.2
  done
}

hub_loop='' robot='' bridge='' checker=''
stop_pid() {  # stop_pid PID SIGNAL: signal one process we started, wait up to 10 s
  local pid=$1 sig=$2 i
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_hub() {
  local round pid i
  [ -n "$hub_loop" ] || return 0
  touch "$stopfile"
  for round in TERM TERM KILL; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -z "$pid" ] || kill -"$round" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$hub_loop" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$hub_loop" 2>/dev/null || break
  done
  stop_pid "$hub_loop" KILL
}
cleanup() {
  trap - EXIT INT TERM
  # The checker, then the bridge (the hub sees its clean close), the robot and the hub.
  stop_pid "$checker" TERM
  stop_pid "$bridge" TERM
  stop_pid "$robot" TERM
  stop_hub
  rm -f "$stopfile" "$ready" "$bridge_started" "$pidfile" "$proxy_port" "$work/bridge.pid"
  echo "== realhub: everything stopped; the run took $((SECONDS - started)) s"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== hub: $hub_url from $hub (log: $hub_log), ROS_DOMAIN_ID=$ROS_DOMAIN_ID"
supervise_hub 2>> "$hub_log" &  # its shell's "Killed" notes go to the log too
hub_loop=$!
hub_up() {  # the hub answers its health check (no proxy: loopback only)
  "$python" -c 'import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(sys.argv[1], timeout=1)' "$hub_url/" 2>/dev/null
}
for ((i = 0; i < 300; i++)); do
  hub_up && break
  kill -0 "$hub_loop" 2>/dev/null || break
  sleep 0.1
done
hub_up || { echo "realhub.sh: the hub did not come up; its log:" >&2
  tail -20 "$hub_log" >&2; exit 1; }

export PYTHONPATH="$src${PYTHONPATH:+:$PYTHONPATH}"
echo "== bridge: $src/artbot_bridge, params $params, agent '$agent'"
(cd "$work" && exec "$python" -m artbot_bridge.demo_robot --ros-args --log-level warn) \
  > "$work/robot.log" 2>&1 &
robot=$!
"$python" "$root/scripts/realhub_check.py" --hub-url "$hub_url" --agent-id "$agent" \
  --hub-log "$hub_log" --hub-pidfile "$pidfile" --ready-file "$ready" \
  --bridge-started-file "$bridge_started" --report "$work/report.txt" \
  --proxy-port-file "$proxy_port" --bridge-pidfile "$work/bridge.pid" "$@" &
checker=$!
for ((i = 0; i < 600; i++)); do
  [ -e "$ready" ] && break
  kill -0 "$checker" 2>/dev/null || break
  sleep 0.1
done
[ -e "$ready" ] || { echo "realhub.sh: the checker did not get ready" >&2; exit 1; }
# The bridge reaches the hub through the checker's proxy, which kills the hub's reader in
# check 6 as a hub bug does; everything else passes through it unchanged.
bridge_hub="http://127.0.0.1:$(cat "$proxy_port")"

date +%s.%N > "$bridge_started.new"
(cd "$work" && exec "$python" -m artbot_bridge --ros-args --params-file "$params" \
  -p "hub_url:=$bridge_hub" -p "agent_id:=$agent" \
  -p heartbeat_interval:=1.0 -p monitor_interval:=1.0) > "$work/bridge.log" 2>&1 &
bridge=$!
echo "$bridge" > "$work/bridge.pid"
mv "$bridge_started.new" "$bridge_started"

rc=0
wait "$checker" || rc=$?
checker=''
if ! kill -0 "$bridge" 2>/dev/null; then
  echo "!! the bridge exited during the run; the end of $work/bridge.log:"
  tail -20 "$work/bridge.log"
  rc=1
fi
if [ "$rc" != 0 ]; then
  echo "== FAILED (exit $rc); logs: $work/{hub,bridge,robot}.log, table: $work/report.txt"
fi
exit "$rc"
