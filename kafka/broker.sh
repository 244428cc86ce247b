#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft) on 127.0.0.1 for tests and local runs, from Maven Central jars.
#   bash kafka/broker.sh start    resolve jars (first time), format a fresh log directory, start, wait until ready
#   bash kafka/broker.sh stop     stop the broker this script started
#   bash kafka/broker.sh status
# A broker already answering on the port is reused. KAFKA_TEST_PORT changes the port (default 19092).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
port="${KAFKA_TEST_PORT:-19092}"
controller_port=$((port + 1))
state="$root/.kafka"
pidfile="$state/broker.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answering() { node "$here/wait-ready.mjs" "127.0.0.1:$port" 1 >/dev/null 2>&1; }

start() {
  if answering; then echo "kafka already running at 127.0.0.1:$port"; return 0; fi
  if [ ! -d "$here/target/libs" ]; then
    echo "resolving the Kafka broker jars from Maven Central…"
    mvn -q -B -f "$here/pom.xml" package
  fi
  rm -rf "$state" && mkdir -p "$state/logs" "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=20971520
replica.fetch.max.bytes=20971520
PROPS
  local java=(java -Xms256m -Xmx1g -Dkafka.logs.dir="$state/logs" -Dlog4j.configuration="file:$here/log4j.properties" -cp "$here/target/libs/*")
  local cluster_id
  cluster_id="$("${java[@]}" kafka.tools.StorageTool random-uuid)"
  "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >/dev/null
  setsid nohup "${java[@]}" kafka.Kafka "$state/server.properties" >"$state/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! node "$here/wait-ready.mjs" "127.0.0.1:$port" 90; then
    tail -20 "$state/logs/server.log" "$state/logs/stdout.log" >&2 || true
    stop
    exit 1
  fi
}

stop() {
  if ! running; then echo "no broker started by this script is running"; return 0; fi
  local pid
  pid="$(cat "$pidfile")"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if answering; then echo "kafka answering at 127.0.0.1:$port"; else echo "kafka not answering at 127.0.0.1:$port"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
