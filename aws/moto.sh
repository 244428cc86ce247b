#!/usr/bin/env bash
# moto in server mode: AWS's APIs emulated on 127.0.0.1, for tests and for trying trailwatch without AWS.
#   bash aws/moto.sh install      a project-local virtual environment (.moto/venv) with moto[server], from PyPI
#   bash aws/moto.sh start [PORT] install if needed, start on 127.0.0.1:PORT (default 19400), wait until it answers
#   bash aws/moto.sh stop         stop the server this script started
# Point trailwatch at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT and any credentials
# (AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.moto"
venv="$state/venv"
pidfile="$state/server.pid"

install() {
  if [ -x "$venv/bin/moto_server" ]; then return 0; fi
  mkdir -p "$state"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==5.2.6"
}

answering() { curl -fsS -o /dev/null "http://127.0.0.1:$1/moto-api/" 2>/dev/null; }

start() {
  local port="${1:-19400}"
  install
  if answering "$port"; then echo "moto already answering at 127.0.0.1:$port"; return 0; fi
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$state/server.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 100); do
    if answering "$port"; then echo "moto ready at http://127.0.0.1:$port"; return 0; fi
    sleep 0.2
  done
  echo "moto did not start; see $state/server.log" >&2
  return 1
}

stop() {
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then kill "$(cat "$pidfile")"; fi
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop ;;
  *) echo "usage: bash aws/moto.sh install|start [PORT]|stop" >&2; exit 2 ;;
esac
