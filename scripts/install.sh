#!/usr/bin/env bash
# Install tributary as a systemd service on this machine (a Raspberry Pi or any systemd Linux).
#
#   sudo scripts/install.sh [--no-start] [--link] [--root DIR]
#
# Run from a built checkout (`npm ci && npm run build`). Idempotent: run it again after `git pull && npm
# run build` to upgrade. It
#   - creates the system user and group `tributary` (no login shell, no home of its own),
#   - copies the app (dist/src, node_modules, package.json, README) to /opt/tributary, replacing the
#     previous copy in one rename (or, with --link, points /opt/tributary at this checkout, for development),
#   - writes /etc/tributary/tributary.yaml, ONLY if it does not exist: every setting commented out except
#     the MQTT password and ACL files below,
#   - creates /etc/tributary/passwd (Mosquitto's format, no users yet) and /etc/tributary/acl (one rule
#     granting everything, to be replaced), owned by the service user with mode 0600, ONLY if they do not
#     exist: a reinstall keeps users and rules,
#   - installs /etc/systemd/system/tributary.service, reloads systemd, enables the service and (re)starts
#     it, unless --no-start (then it is enabled for the next boot but not started now).
# The log lives in /var/lib/tributary, which systemd creates (StateDirectory=); this script never touches it.
#
# --root DIR installs into DIR instead of / (for packaging and for tests): no user is created and
# systemctl is not run.
set -euo pipefail

readonly APP_NAME=tributary
readonly SERVICE_USER=tributary
readonly NODE_MAJOR_MIN=20
readonly INSTALL_MARKER=.installed-by-tributary

say() { printf 'tributary install: %s\n' "$*"; }
die() { printf 'tributary install: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

START=1
LINK=0
ROOT=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-start) START=0 ;;
    --link) LINK=1 ;;
    --root) [[ $# -ge 2 ]] || die '--root needs a directory'; ROOT="${2%/}"; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'tributary install: unknown option: %s\n' "$1" >&2; usage 2 ;;
  esac
  shift
done

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly SOURCE_DIR
readonly APP_DIR="$ROOT/opt/$APP_NAME"
readonly CONFIG_DIR="$ROOT/etc/$APP_NAME"
readonly CONFIG_FILE="$CONFIG_DIR/$APP_NAME.yaml"
readonly PASSWORD_FILE="$CONFIG_DIR/passwd"
readonly ACL_FILE="$CONFIG_DIR/acl"
readonly UNIT_DIR="$ROOT/etc/systemd/system"
readonly UNIT_FILE="$UNIT_DIR/$APP_NAME.service"

check_prerequisites() {
  if [[ -z "$ROOT" && "$(id -u)" -ne 0 ]]; then die 'run as root (sudo), or pass --root DIR'; fi
  command -v node >/dev/null || die "node not found; install Node.js ${NODE_MAJOR_MIN}+ system-wide first"
  node -e "process.exit(Number(process.versions.node.split('.')[0]) >= ${NODE_MAJOR_MIN} ? 0 : 1)" \
    || die "Node.js ${NODE_MAJOR_MIN}+ required, found $(node --version)"
  if [[ -z "$ROOT" ]]; then
    # The unit runs `/usr/bin/env node` with systemd's PATH, which has no nvm or ~/.local directories.
    [[ -x /usr/bin/node || -x /usr/local/bin/node ]] \
      || die "node must be in /usr/bin or /usr/local/bin for the service to find it (found $(command -v node))"
  fi
  [[ -f "$SOURCE_DIR/dist/src/cli/entry.cjs" ]] || die "no build in $SOURCE_DIR: run 'npm ci && npm run build' first"
  [[ -d "$SOURCE_DIR/node_modules" ]] || die "no node_modules in $SOURCE_DIR: run 'npm ci' first"
}

create_user() {
  if [[ -n "$ROOT" ]]; then return 0; fi
  if ! getent group "$SERVICE_USER" >/dev/null; then
    groupadd --system "$SERVICE_USER"
    say "created group $SERVICE_USER"
  fi
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --gid "$SERVICE_USER" --home-dir "/var/lib/$APP_NAME" --no-create-home \
      --shell /usr/sbin/nologin --comment 'tributary stream broker' "$SERVICE_USER"
    say "created user $SERVICE_USER"
  else
    say "user $SERVICE_USER exists"
  fi
}

install_app() {
  mkdir -p "$(dirname "$APP_DIR")"
  if [[ "$LINK" -eq 1 ]]; then
    remove_previous_app
    ln -s "$SOURCE_DIR" "$APP_DIR"
    say "linked $APP_DIR -> $SOURCE_DIR"
    return 0
  fi
  local staging="$APP_DIR.new.$$"
  rm -rf "$staging"
  mkdir -p "$staging/dist"
  cp -a "$SOURCE_DIR/dist/src" "$staging/dist/src"
  cp -a "$SOURCE_DIR/node_modules" "$SOURCE_DIR/package.json" "$staging/"
  for optional in package-lock.json README.md LICENSE; do
    if [[ -f "$SOURCE_DIR/$optional" ]]; then cp -a "$SOURCE_DIR/$optional" "$staging/"; fi
  done
  touch "$staging/$INSTALL_MARKER"
  # Code is root's: the service user can read and run it but not change it.
  if [[ -z "$ROOT" ]]; then chown -R root:root "$staging"; fi
  chmod -R u+rwX,go+rX,go-w "$staging"
  remove_previous_app
  mv "$staging" "$APP_DIR"
  say "installed the app in $APP_DIR"
}

# Only what this script put there is removed: a symlink, or a directory carrying the marker.
remove_previous_app() {
  if [[ -L "$APP_DIR" ]]; then
    rm "$APP_DIR"
  elif [[ -d "$APP_DIR" ]]; then
    [[ -f "$APP_DIR/$INSTALL_MARKER" ]] || die "$APP_DIR exists and was not installed by this script; move it away first"
    rm -rf "$APP_DIR"
  fi
}

install_config() {
  mkdir -p "$CONFIG_DIR"
  chmod 0755 "$CONFIG_DIR"
  if [[ -e "$CONFIG_FILE" ]]; then
    say "kept existing $CONFIG_FILE"
    return 0
  fi
  write_default_config >"$CONFIG_FILE.new"
  chmod 0640 "$CONFIG_FILE.new"
  if [[ -z "$ROOT" ]]; then chown "root:$SERVICE_USER" "$CONFIG_FILE.new"; fi
  mv "$CONFIG_FILE.new" "$CONFIG_FILE"
  say "wrote default $CONFIG_FILE (everything commented out: the defaults apply)"
}

# A secret file for the service user only: created with its content, never replaced.
install_secret_file() {
  local file="$1" what="$2"
  if [[ -e "$file" ]]; then
    say "kept existing $file"
    return 0
  fi
  ( umask 077; "$3" >"$file.new" )
  chmod 0600 "$file.new"
  if [[ -z "$ROOT" ]]; then chown "$SERVICE_USER:$SERVICE_USER" "$file.new"; fi
  mv "$file.new" "$file"
  say "created $file ($what)"
}

install_auth_files() {
  install_secret_file "$PASSWORD_FILE" 'no users yet' write_default_passwords
  install_secret_file "$ACL_FILE" 'everything allowed: replace the rule with yours' write_default_acl
}

write_default_passwords() {
  : # Mosquitto's password-file format has no comments: an empty file is a file with no users.
}

write_default_acl() {
  cat <<'ACL'
# MQTT access rules, in Mosquitto's acl_file syntax; reload with: sudo systemctl reload tributary
#
#   user NAME                           the rules below it are NAME's
#   topic [read|write|readwrite|deny] FILTER
#   pattern [read|write|readwrite|deny] FILTER    %u = user name, %c = client id; applies to everyone
# Rules before the first `user` line are for anonymous clients (let in from loopback only, by default).
# With this file in force a client may do only what a rule allows; deny rules win.
#
# Examples:
#   user historian
#   topic read sensors/#
#   pattern write sensors/%c/#

# Until you write your own: every client may read and write every topic (as without an ACL).
pattern readwrite #
ACL
}

write_default_config() {
  cat <<'YAML'
# tributary configuration. Every key is optional; unknown keys are an error.
# Check a change with:  node /opt/tributary/dist/src/cli/entry.cjs check-config /etc/tributary/tributary.yaml
# then:                 sudo systemctl restart tributary
#
# The service passes --data-dir /var/lib/tributary (the only directory it may write), which overrides
# dataDir below.

# gateway: { id: gw-01 }          # sent upstream in every record's tributary.gateway header

# Users: sudo node /opt/tributary/dist/src/cli/entry.cjs passwd /etc/tributary/passwd NAME
# then:  sudo systemctl reload tributary   (files are re-read on SIGHUP; nobody is disconnected)
# Clients without a user name are let in from loopback only, unless allowAnonymous: true.
mqtt:
  auth: { passwordFile: /etc/tributary/passwd, aclFile: /etc/tributary/acl }   # add allowAnonymous: true|false
# listeners: [{ type: tcp, host: 0.0.0.0, port: 1883 }]
# maxPayloadBytes: 262144

# A QoS 1/2 ack waits for the commit: a longer interval means fewer SD card writes, slower acks.
# durability: { commitIntervalMs: 5, commitBytesMax: 1048576 }

# Below diskFreeMinBytes free (or above maxBytes stored) the oldest records of the lowest-priority
# streams are dropped, counted in tributary_dropped_records_total.
# storage: { maxBytes: 4GiB, diskFreeMinBytes: 512MiB }

# streams:
#   - name: telemetry
#     match: ["sensors/+/telemetry/#"]
#     partitions: 4
#     key: topic-level:1
#     retention: { bytes: 1GiB, age: 7d }
#     priority: 5
#     upstream: { topic: edge.telemetry }

# upstream:
#   kafka:
#     brokers: ["kafka-1:9092"]
#     compression: zstd
#     batch: { maxRecords: 10000, maxBytes: 1MiB, lingerMs: 50 }
#     rateLimitBytesPerSec: 0

# http: { host: 0.0.0.0, port: 9180 }   # /healthz, /metrics, /api/v1/status
YAML
}

install_unit() {
  mkdir -p "$UNIT_DIR"
  install -m 0644 "$SOURCE_DIR/scripts/systemd/$APP_NAME.service" "$UNIT_FILE"
  say "installed $UNIT_FILE"
}

activate() {
  if [[ -n "$ROOT" ]]; then
    say "--root given: not running systemctl"
    return 0
  fi
  if [[ ! -d /run/systemd/system ]]; then
    say 'systemd is not running on this machine: the unit is installed but not enabled'
    return 0
  fi
  systemctl daemon-reload
  systemctl enable "$APP_NAME.service"
  if [[ "$START" -eq 0 ]]; then
    say "enabled; not started (--no-start). Start it with: systemctl start $APP_NAME"
    return 0
  fi
  # restart, not start: after an upgrade the running broker must pick up the new code.
  systemctl restart "$APP_NAME.service"
  say "started. Follow it with: journalctl -u $APP_NAME -f   (health: curl localhost:9180/healthz)"
}

check_prerequisites
create_user
install_app
install_config
install_auth_files
install_unit
activate
say done
