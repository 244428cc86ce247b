#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft) on 127.0.0.1 for tests and local runs, from Maven Central jars.
#   bash kafka/broker.sh start    resolve jars (first time), format a fresh log directory, start, wait until ready
#   bash kafka/broker.sh stop     stop the broker this script started
#   bash kafka/broker.sh status
# A broker already answering on the port is reused. KAFKA_TEST_PORT changes the port (default 19092).
# Besides PLAINTEXT on that port, a SASL_PLAINTEXT listener on port+2 accepts PLAIN, SCRAM-SHA-256
# and SCRAM-SHA-512 for user "trailwatch", password "trailwatch-secret", and an SSL listener on
# port+3 requiring a client certificate: CA, client certificate and key are written to .kafka/tls/.
# Both are there to test the client's security settings.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
port="${KAFKA_TEST_PORT:-19092}"
controller_port=$((port + 1))
sasl_port=$((port + 2))
ssl_port=$((port + 3))
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
  make_certificates "$state/tls"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$state/tls/broker-keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$state/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_trailwatch="trailwatch-secret";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
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
  "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" \
    --add-scram 'SCRAM-SHA-256=[name=trailwatch,password=trailwatch-secret]' \
    --add-scram 'SCRAM-SHA-512=[name=trailwatch,password=trailwatch-secret]' >/dev/null
  setsid nohup "${java[@]}" kafka.Kafka "$state/server.properties" >"$state/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  if ! node "$here/wait-ready.mjs" "127.0.0.1:$port" 90; then
    tail -20 "$state/logs/server.log" "$state/logs/stdout.log" >&2 || true
    stop
    exit 1
  fi
}

# A throwaway CA, a broker certificate for 127.0.0.1, and a client certificate, all PEM.
make_certificates() {
  local dir="$1"
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=trailwatch-test-ca 2>/dev/null
    for name in broker client; do
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days 30 -extfile "$name.ext" 2>/dev/null
    done
    # Kafka reads a PEM key store as the certificate followed by an unencrypted PKCS#8 key.
    openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.pk8
    cat broker.pem broker.pk8 > broker-keystore.pem
  )
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
