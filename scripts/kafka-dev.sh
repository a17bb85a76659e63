#!/usr/bin/env bash
# A real Apache Kafka (KRaft, no ZooKeeper) on loopback for development, tests and benchmarks.
#
#   scripts/kafka-dev.sh start [--nodes 1|3]   start a fresh cluster (new data dir); returns once every
#                                              node answers. Idempotent: if it already runs, returns 0
#                                              (and restarts nodes that were stopped with stop-node).
#   scripts/kafka-dev.sh start --secure        a separate 1-node cluster whose clients connect over SASL_SSL
#                                              (default port 19792): TLS with a CA made at start, SCRAM-SHA-256,
#                                              SCRAM-SHA-512 and PLAIN users with fresh random passwords
#   scripts/kafka-dev.sh secure-info           the secure cluster's CA, users and passwords (KEY=VALUE lines)
#   scripts/kafka-dev.sh stop [--secure]       stop every node this script started (SIGTERM, then SIGKILL)
#   scripts/kafka-dev.sh status [--secure]     which nodes run; exit 0 all up, 3 if none or some are down
#   scripts/kafka-dev.sh stop-node N [--kill]  stop one node, keeping its data (--kill: SIGKILL at once)
#   scripts/kafka-dev.sh start-node N          restart a node stopped by stop-node, on its old data
#   scripts/kafka-dev.sh classpath             print the jars' classpath, for Kafka's own tools
#
# Environment:
#   KAFKA_PORT                 first client port (default 19092, with --secure 19792); node i listens on
#                              KAFKA_PORT+i-1
#   KAFKA_CONTROLLER_PORT      first KRaft controller port (default KAFKA_PORT+1000)
#   KAFKA_INTERNAL_PORT        with --secure: the broker's own PLAINTEXT listener on loopback, used between
#                              broker and itself only (default KAFKA_PORT+2000)
#   KAFKA_DATA_DIR             where nodes keep data, logs and pid files (default .cache/kafka/run-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS            JVM heap per node (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT_SECONDS  how long start waits for the brokers (default 120)
#   KAFKA_STOP_TIMEOUT_SECONDS   how long stop waits after SIGTERM before SIGKILL (default 30)
#
# The jars come from Maven Central the first time (scripts/kafka/pom.xml, `mvn dependency:copy-dependencies`)
# into the git-ignored .cache/kafka/libs; mvn runs again only when the pom changes. Clusters on different
# KAFKA_PORTs are independent (own data dir, own pid files), so a 3-node failover test can run beside the
# 1-node cluster the other tests share, and the secure cluster beside both. Calls on one cluster are
# serialised with flock, because parallel test processes may all call `start`.
#
# The secure cluster (--secure) keeps what clients need in $KAFKA_DATA_DIR/secure, made anew by each fresh
# start with openssl and Kafka's StorageTool (`format --add-scram`): ca.pem (the CA that signed the broker's
# certificate, SAN localhost and 127.0.0.1), client.pem/client.key (a client certificate from that CA: the
# listener requests one and verifies it when given), other-ca.pem (a CA that signed nothing here, for tests
# of a wrong CA), one password file per user (the password alone, no newline), client-<mechanism>.properties
# for Kafka's own tools, and `info`, which `secure-info` prints:
#   bootstrap=127.0.0.1:19792  ca=...  other_ca=...  client_cert=...  client_key=...
#   scram_sha_256_user=...  scram_sha_256_password_file=...  (likewise scram_sha_512_*, plain_*)
#   client_properties_scram_sha_512=...  (likewise _scram_sha_256, _plain)
set -euo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly POM="$ROOT/scripts/kafka/pom.xml"
# Symlinks resolved (a git worktree may link its .cache/kafka to another checkout's): the pid files and
# the running brokers' command lines name the real path, and status compares against it.
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}"
[[ -d "$CACHE" ]] && CACHE="$(cd -P "$CACHE" && pwd)"
readonly CACHE
readonly LIBS="$CACHE/libs"
# --secure may stand anywhere among the arguments: it picks the cluster, so it is read before the ports.
SECURE=0
for arg in "$@"; do [[ "$arg" == --secure ]] && SECURE=1; done
[[ "${1:-}" == secure-info ]] && SECURE=1
readonly SECURE
readonly PORT="${KAFKA_PORT:-$((SECURE ? 19792 : 19092))}"
readonly CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1000))}"
readonly INTERNAL_PORT="${KAFKA_INTERNAL_PORT:-$((PORT + 2000))}"
readonly RUN="${KAFKA_DATA_DIR:-$CACHE/run-$PORT}"
readonly SECURE_DIR="$RUN/secure"
# The users of the secure cluster: SCRAM ones live in the metadata log (format --add-scram), the PLAIN one
# in the listener's JAAS config. Names are JAAS option names too (user_NAME=...), so no '-' in them.
readonly SCRAM_SHA_256_USER=tributary_scram256
readonly SCRAM_SHA_512_USER=tributary_scram512
readonly PLAIN_USER=tributary_plain
readonly HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
readonly START_TIMEOUT_SECONDS="${KAFKA_START_TIMEOUT_SECONDS:-120}"
readonly STOP_TIMEOUT_SECONDS="${KAFKA_STOP_TIMEOUT_SECONDS:-30}"
readonly LOCK_TIMEOUT_SECONDS=300
# KafkaRaftServer logs this once the broker has caught up with the metadata log and serves requests.
readonly STARTED_LINE='Kafka Server started'

log() { printf 'kafka-dev: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

node_dir() { printf '%s/node-%s' "$RUN" "$1"; }
client_port() { printf '%s' $((PORT + $1 - 1)); }
controller_port() { printf '%s' $((CONTROLLER_PORT + $1 - 1)); }

# What the cluster in $RUN is (its clients' security): `plaintext` or `secure`; and what this call asks for.
cluster_kind() {
  if [[ -f "$RUN/kind" ]]; then cat "$RUN/kind"; else printf 'plaintext'; fi
}
cluster_kind_wanted() {
  if ((SECURE == 1)); then printf 'secure'; else printf 'plaintext'; fi
}

# The node count of the cluster in $RUN, or 0 when none was ever started there.
cluster_nodes() {
  if [[ -f "$RUN/nodes" ]]; then cat "$RUN/nodes"; else printf '0'; fi
}

# ---------------------------------------------------------------------------------------------- jars

fetch_libs() {
  local want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$LIBS/.pom.sha256" && "$(cat "$LIBS/.pom.sha256")" == "$want" ]]; then return 0; fi
  mkdir -p "$CACHE"
  # Two clusters on different ports may start at once; only one of them downloads.
  exec 8>"$CACHE/fetch.lock"
  flock -w "$LOCK_TIMEOUT_SECONDS" 8 || die "timed out waiting for $CACHE/fetch.lock"
  if [[ -f "$LIBS/.pom.sha256" && "$(cat "$LIBS/.pom.sha256")" == "$want" ]]; then exec 8>&-; return 0; fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven) to fetch Kafka"
  command -v java >/dev/null || die "java not found: install a JDK 17 (apt-get install openjdk-17-jdk-headless)"
  log "fetching Apache Kafka jars from Maven Central into $LIBS (first run only) ..."
  rm -rf "$LIBS.tmp"
  if ! mvn -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" \
    >"$CACHE/mvn.log" 2>&1; then
    tail -n 30 "$CACHE/mvn.log" >&2
    rm -rf "$LIBS.tmp"
    die "mvn dependency:copy-dependencies failed (is Maven Central reachable? full log: $CACHE/mvn.log)"
  fi
  printf '%s\n' "$want" >"$LIBS.tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  exec 8>&-
}

classpath() {
  local jars=("$LIBS"/*.jar)
  local IFS=':'
  printf '%s\n' "${jars[*]}"
}

# Short-lived Kafka tools (StorageTool) get a fixed heap: KAFKA_HEAP_OPTS is for the brokers.
run_tool() {
  java -Xmx256m -Djava.awt.headless=true -cp "$LIBS/*" "$@"
}

# ------------------------------------------------------------------------------------------- process

# Prints the pid of node N if it runs. The command line is checked so that a recycled pid never gets
# mistaken for (or killed as) a Kafka node.
node_pid() {
  local dir pid
  dir="$(node_dir "$1")"
  [[ -f "$dir/pid" ]] || return 1
  pid="$(cat "$dir/pid")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/server.properties" || return 1
  printf '%s' "$pid"
}

port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

node_up() {
  node_pid "$1" >/dev/null && port_answers "$(client_port "$1")"
}

# SIGTERM lets Kafka shut down cleanly (controlled shutdown moves leadership away first).
stop_pid() {
  local pid="$1" signal="$2" waited=0
  kill "-$signal" "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT_SECONDS * 10)); then
      log "pid $pid still alive after ${STOP_TIMEOUT_SECONDS}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      signal=KILL
      waited=0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

stop_node() {
  local n="$1" signal="${2:-TERM}" pid
  if pid="$(node_pid "$n")"; then
    log "stopping node $n (pid $pid, SIG$signal)"
    stop_pid "$pid" "$signal"
  fi
  rm -f "$(node_dir "$n")/pid"
}

# -------------------------------------------------------------------------------------------- config

quorum_voters() {
  local nodes="$1" i voters=()
  for ((i = 1; i <= nodes; i++)); do voters+=("$i@127.0.0.1:$(controller_port "$i")"); done
  local IFS=','
  printf '%s' "${voters[*]}"
}

internal_port() { printf '%s' $((INTERNAL_PORT + $1 - 1)); }

# The listener lines of node N. Plaintext: one PLAINTEXT listener for clients and brokers. Secure: clients
# get SASL_SSL only; the broker talks to itself over a PLAINTEXT listener on loopback (INTERNAL), as the
# controller does, so no broker credentials are needed.
listener_properties() {
  local n="$1"
  if ((SECURE == 0)); then
    cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$(client_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
EOF
    return 0
  fi
  cat <<EOF
listeners=SASL_SSL://127.0.0.1:$(client_port "$n"),INTERNAL://127.0.0.1:$(internal_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=SASL_SSL://127.0.0.1:$(client_port "$n"),INTERNAL://127.0.0.1:$(internal_port "$n")
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$PLAIN_USER="$(cat "$SECURE_DIR/$PLAIN_USER.password")";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE_DIR/broker.p12
ssl.keystore.password=$(cat "$SECURE_DIR/keystore.password")
ssl.key.password=$(cat "$SECURE_DIR/keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE_DIR/ca.pem
# A client certificate is verified when a client sends one; SASL still names the principal.
ssl.client.auth=requested
EOF
}

write_properties() {
  local n="$1" nodes="$2" dir rf min_isr
  dir="$(node_dir "$n")"
  rf="$nodes"
  min_isr=$((nodes > 1 ? 2 : 1))
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-dev.sh: node $n of a $nodes-node KRaft cluster (broker and controller).
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(quorum_voters "$nodes")
$(listener_properties "$n")
controller.listener.names=CONTROLLER
log.dirs=$dir/data
auto.create.topics.enable=true
num.partitions=4
default.replication.factor=$rf
min.insync.replicas=$min_isr
# Few internal partitions: a dev cluster should start and form consumer groups quickly.
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
# A killed node is noticed sooner than with the 9 s default, so failover tests stay short.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
num.network.threads=2
num.io.threads=4
EOF
}

write_log4j() {
  cat >"$RUN/log4j.properties" <<'EOF'
# Kafka logs to a file per node (kafka.logs.dir is set per JVM); the console stays quiet.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

# ------------------------------------------------------------------------------------------- start

new_cluster_id() {
  # A Kafka Uuid: 16 random bytes in unpadded base64url (22 characters). Like Kafka's Uuid.randomUuid, never
  # one that starts with '-': the tools' argument parser would take it for an option.
  local id='-'
  while [[ "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  printf '%s' "$id"
}

require_ports_free() {
  local nodes="$1" i p ports
  for ((i = 1; i <= nodes; i++)); do
    ports=("$(client_port "$i")" "$(controller_port "$i")")
    ((SECURE == 0)) || ports+=("$(internal_port "$i")")
    for p in "${ports[@]}"; do
      if port_answers "$p"; then
        die "port $p is already in use by another process; set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
      fi
    done
  done
}

# ------------------------------------------------------------------------------------ secure material

random_secret() {
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# Certificates (EC P-256: quick to make) and passwords for the secure cluster, made anew in $SECURE_DIR.
make_secure_material() {
  command -v openssl >/dev/null || die "openssl not found: install it (apt-get install openssl) for --secure"
  rm -rf "$SECURE_DIR"
  mkdir -p "$SECURE_DIR"
  chmod 700 "$SECURE_DIR"
  if ! (cd "$SECURE_DIR" && make_certificates >openssl.log 2>&1); then
    cat "$SECURE_DIR/openssl.log" >&2
    die "openssl failed making the secure cluster's certificates (log: $SECURE_DIR/openssl.log)"
  fi
  local user
  for user in "$SCRAM_SHA_256_USER" "$SCRAM_SHA_512_USER" "$PLAIN_USER"; do
    (umask 077 && printf '%s' "$(random_secret)" >"$SECURE_DIR/$user.password")
  done
  write_client_properties SCRAM-SHA-256 "$SCRAM_SHA_256_USER" scram
  write_client_properties SCRAM-SHA-512 "$SCRAM_SHA_512_USER" scram
  write_client_properties PLAIN "$PLAIN_USER" plain
  cat >"$SECURE_DIR/info" <<EOF
bootstrap=127.0.0.1:$(client_port 1)
ca=$SECURE_DIR/ca.pem
other_ca=$SECURE_DIR/other-ca.pem
client_cert=$SECURE_DIR/client.pem
client_key=$SECURE_DIR/client.key
scram_sha_256_user=$SCRAM_SHA_256_USER
scram_sha_256_password_file=$SECURE_DIR/$SCRAM_SHA_256_USER.password
scram_sha_512_user=$SCRAM_SHA_512_USER
scram_sha_512_password_file=$SECURE_DIR/$SCRAM_SHA_512_USER.password
plain_user=$PLAIN_USER
plain_password_file=$SECURE_DIR/$PLAIN_USER.password
client_properties_scram_sha_256=$SECURE_DIR/client-scram-sha-256.properties
client_properties_scram_sha_512=$SECURE_DIR/client-scram-sha-512.properties
client_properties_plain=$SECURE_DIR/client-plain.properties
EOF
}

# Runs in $SECURE_DIR: a CA, the broker's certificate from it (SAN localhost, 127.0.0.1) as a PKCS12 keystore,
# a client certificate from it, and an unrelated CA.
make_certificates() {
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650)
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -subj /CN=tributary-dev-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -subj /CN=tributary-dev-other-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >broker.ext
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
  local name
  for name in broker client; do
    openssl req -new "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=tributary-dev-$name"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile "$name.ext" -out "$name.pem"
  done
  (umask 077 && printf '%s' "$(random_secret)" >keystore.password)
  openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
    -passout file:keystore.password -out broker.p12
}

# client-<mechanism>.properties: what Kafka's own tools (console consumer, ...) need for the secure cluster.
write_client_properties() {
  local mechanism="$1" user="$2" module="$3" file
  file="$SECURE_DIR/client-${mechanism,,}.properties"
  local login=org.apache.kafka.common.security.scram.ScramLoginModule
  [[ "$module" == plain ]] && login=org.apache.kafka.common.security.plain.PlainLoginModule
  (umask 077 && cat >"$file" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=$mechanism
sasl.jaas.config=$login required username="$user" password="$(cat "$SECURE_DIR/$user.password")";
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE_DIR/ca.pem
EOF
  )
}

# The StorageTool arguments that put the SCRAM users into the secure cluster's first metadata.
scram_format_args() {
  ((SECURE == 1)) || return 0
  printf '%s\n' --add-scram "SCRAM-SHA-256=[name=$SCRAM_SHA_256_USER,password=$(cat "$SECURE_DIR/$SCRAM_SHA_256_USER.password")]"
  printf '%s\n' --add-scram "SCRAM-SHA-512=[name=$SCRAM_SHA_512_USER,password=$(cat "$SECURE_DIR/$SCRAM_SHA_512_USER.password")]"
}

format_storage() {
  local nodes="$1" id i dir pids=() scram=()
  id="$(new_cluster_id)"
  mapfile -t scram < <(scram_format_args)
  for ((i = 1; i <= nodes; i++)); do
    dir="$(node_dir "$i")"
    # StorageTool is a short JVM run each; formatting the nodes in parallel saves seconds.
    run_tool -Dlog4j.configuration="file:$RUN/log4j.properties" -Dkafka.logs.dir="$dir" \
      kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" "${scram[@]+"${scram[@]}"}" \
      >"$dir/format.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      cat "$(node_dir $((i + 1)))/format.log" >&2
      die "kafka.tools.StorageTool format failed for node $((i + 1))"
    fi
  done
}

launch_node() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  # A fresh server.log per launch, so that waiting for the started line never sees an old one.
  [[ -f "$dir/server.log" ]] && mv -f "$dir/server.log" "$dir/server.log.prev"
  [[ -f "$dir/stdout.log" ]] && mv -f "$dir/stdout.log" "$dir/stdout.log.prev"
  # The lock descriptors are closed for the JVM, or it would hold the cluster lock for its lifetime.
  # shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
  nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$RUN/log4j.properties" -Dkafka.logs.dir="$dir" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null 8>&- 9>&- &
  local pid="$!" waited=0
  printf '%s\n' "$pid" >"$dir/pid"
  # The node outlives this script; bash should neither wait for it nor report how it ended.
  disown "$pid"
  # Until the forked shell has exec'd java, its command line is this script's, and node_pid (which
  # checks it, against recycled pids) would report the node as exited: a loaded CI machine starting two
  # clusters at once hit that window. Wait for the exec, or for the process to end (reported later).
  while kill -0 "$pid" 2>/dev/null && ! node_pid "$n" >/dev/null && ((waited < 100)); do
    sleep 0.05
    waited=$((waited + 1))
  done
}

print_log_tail() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  log "---- last lines of $dir/server.log ----"
  tail -n 40 "$dir/server.log" >&2 2>/dev/null || true
  if [[ -s "$dir/stdout.log" ]]; then
    log "---- last lines of $dir/stdout.log ----"
    tail -n 20 "$dir/stdout.log" >&2
  fi
}

# Waits until each given node logged that it started and its client port answers. On failure it prints
# the logs and stops the given nodes, so that no half-started JVM is left behind.
wait_started() {
  if ! wait_started_or_fail "$@"; then
    local n
    for n in "$@"; do stop_node "$n" KILL; done
    exit 1
  fi
}

wait_started_or_fail() {
  local deadline=$((SECONDS + START_TIMEOUT_SECONDS)) n pending=("$@") still
  while ((${#pending[@]} > 0)); do
    still=()
    for n in "${pending[@]}"; do
      if ! node_pid "$n" >/dev/null; then
        print_log_tail "$n"
        log "error: node $n exited during startup (see $(node_dir "$n")/server.log)"
        return 1
      fi
      if grep -qF "$STARTED_LINE" "$(node_dir "$n")/server.log" 2>/dev/null &&
        port_answers "$(client_port "$n")"; then
        continue
      fi
      still+=("$n")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for n in "${pending[@]}"; do print_log_tail "$n"; done
      log "error: node(s) ${pending[*]} did not start within ${START_TIMEOUT_SECONDS}s"
      return 1
    fi
    sleep 0.2
  done
}

bootstrap() {
  local nodes="$1" i addrs=()
  for ((i = 1; i <= nodes; i++)); do addrs+=("127.0.0.1:$(client_port "$i")"); done
  local IFS=','
  printf '%s' "${addrs[*]}"
}

start_fresh() {
  local nodes="$1" i
  require_ports_free "$nodes"
  # Only what this script created goes: KAFKA_DATA_DIR may point at a directory that holds more.
  rm -rf "$RUN"/node-* "$RUN/nodes" "$RUN/kind" "$SECURE_DIR"
  mkdir -p "$RUN"
  write_log4j
  ((SECURE == 1)) && make_secure_material
  for ((i = 1; i <= nodes; i++)); do
    mkdir -p "$(node_dir "$i")"
    write_properties "$i" "$nodes"
  done
  format_storage "$nodes"
  printf '%s\n' "$nodes" >"$RUN/nodes"
  cluster_kind_wanted >"$RUN/kind"
  for ((i = 1; i <= nodes; i++)); do launch_node "$i"; done
  wait_started $(seq 1 "$nodes")
}

# Nodes that were stopped one by one come back on their data; nodes that run are left alone.
start_missing() {
  local nodes="$1" i missing=()
  for ((i = 1; i <= nodes; i++)); do
    if ! node_pid "$i" >/dev/null; then missing+=("$i"); fi
  done
  ((${#missing[@]} == 0)) && return 0
  for i in "${missing[@]}"; do
    if port_answers "$(client_port "$i")"; then die "port $(client_port "$i") of node $i is taken by another process"; fi
    launch_node "$i"
  done
  wait_started "${missing[@]}"
}

any_node_running() {
  local nodes="$1" i
  for ((i = 1; i <= nodes; i++)); do node_pid "$i" >/dev/null && return 0; done
  return 1
}

cmd_start() {
  local nodes=1
  while (($# > 0)); do
    case "$1" in
      --nodes) nodes="${2:-}"; shift 2 || usage ;;
      --nodes=*) nodes="${1#--nodes=}"; shift ;;
      --secure) shift ;;
      *) usage ;;
    esac
  done
  [[ "$nodes" == 1 || "$nodes" == 3 ]] || die "--nodes must be 1 or 3, not '$nodes'"
  ((SECURE == 0 || nodes == 1)) || die "the secure cluster has 1 node"
  fetch_libs
  local t0=$SECONDS running
  running="$(cluster_nodes)"
  if ((running > 0)) && any_node_running "$running"; then
    ((running == nodes)) ||
      die "a $running-node cluster already runs on port $PORT; stop it first or use another KAFKA_PORT"
    [[ "$(cluster_kind)" == "$(cluster_kind_wanted)" ]] ||
      die "a $(cluster_kind) cluster already runs on port $PORT; stop it first or use another KAFKA_PORT"
    start_missing "$nodes"
    # A node whose process lives but does not serve is reported, not silently counted as running.
    wait_started_or_fail $(seq 1 "$nodes") || die "the running cluster on port $PORT does not answer"
  else
    log "starting a $nodes-node $(cluster_kind_wanted) Kafka cluster in $RUN ..."
    start_fresh "$nodes"
    log "started in $((SECONDS - t0))s"
  fi
  bootstrap "$nodes"
  printf '\n'
}

# -------------------------------------------------------------------------------------------- others

cmd_stop() {
  local nodes i pids=()
  nodes="$(cluster_nodes)"
  # Stop the nodes in parallel: each one's controlled shutdown would otherwise wait for the others.
  for ((i = 1; i <= nodes; i++)); do
    stop_node "$i" &
    pids+=($!)
  done
  for i in "${pids[@]+"${pids[@]}"}"; do wait "$i" || true; done
  ((nodes > 0)) && log "stopped" || log "nothing to stop"
}

cmd_status() {
  local nodes i up=0 pid
  nodes="$(cluster_nodes)"
  if ((nodes == 0)); then
    printf 'no cluster in %s\n' "$RUN"
    return 3
  fi
  for ((i = 1; i <= nodes; i++)); do
    if pid="$(node_pid "$i")" && port_answers "$(client_port "$i")"; then
      printf 'node %s: running (pid %s) on 127.0.0.1:%s\n' "$i" "$pid" "$(client_port "$i")"
      up=$((up + 1))
    elif pid="$(node_pid "$i")"; then
      printf 'node %s: starting (pid %s), port %s not answering yet\n' "$i" "$pid" "$(client_port "$i")"
    else
      printf 'node %s: stopped\n' "$i"
    fi
  done
  ((up == nodes)) || return 3
}

cmd_secure_info() {
  [[ -f "$SECURE_DIR/info" ]] || die "no secure cluster in $RUN: run scripts/kafka-dev.sh start --secure"
  cat "$SECURE_DIR/info"
}

check_node_arg() {
  local n="${1:-}" nodes
  nodes="$(cluster_nodes)"
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= nodes)) || die "node must be 1..$nodes, not '$n'"
}

cmd_stop_node() {
  check_node_arg "${1:-}"
  local signal=TERM
  [[ "${2:-}" == "--kill" ]] && signal=KILL
  stop_node "$1" "$signal"
}

cmd_start_node() {
  check_node_arg "${1:-}"
  fetch_libs
  if node_up "$1"; then return 0; fi
  node_pid "$1" >/dev/null || launch_node "$1"
  wait_started "$1"
  log "node $1 started"
}

with_cluster_lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/run-$PORT.lock"
  flock -w "$LOCK_TIMEOUT_SECONDS" 9 || die "timed out waiting for $CACHE/run-$PORT.lock"
  "$@"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) with_cluster_lock cmd_start "$@" ;;
    stop) with_cluster_lock cmd_stop ;;
    status) cmd_status ;;
    stop-node) with_cluster_lock cmd_stop_node "$@" ;;
    start-node) with_cluster_lock cmd_start_node "$@" ;;
    secure-info) cmd_secure_info ;;
    classpath) fetch_libs && classpath ;;
    *) usage ;;
  esac
}

main "$@"
