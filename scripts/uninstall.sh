#!/usr/bin/env bash
# Remove the tributary service installed by scripts/install.sh.
#
#   sudo scripts/uninstall.sh [--purge] [--root DIR]
#
# Stops and disables the service, removes its unit file and /opt/tributary. Keeps the config
# (/etc/tributary) and the log (/var/lib/tributary): records not yet forwarded are still in there.
# --purge also deletes the config, the log and the tributary user and group.
#
# --root DIR uninstalls from DIR instead of / (for packaging and for tests): systemctl and userdel are
# not run.
set -euo pipefail

readonly APP_NAME=tributary
readonly SERVICE_USER=tributary
readonly INSTALL_MARKER=.installed-by-tributary

say() { printf 'tributary uninstall: %s\n' "$*"; }
die() { printf 'tributary uninstall: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

PURGE=0
ROOT=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --root) [[ $# -ge 2 ]] || die '--root needs a directory'; ROOT="${2%/}"; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'tributary uninstall: unknown option: %s\n' "$1" >&2; usage 2 ;;
  esac
  shift
done

readonly APP_DIR="$ROOT/opt/$APP_NAME"
readonly CONFIG_DIR="$ROOT/etc/$APP_NAME"
readonly DATA_DIR="$ROOT/var/lib/$APP_NAME"
readonly UNIT_FILE="$ROOT/etc/systemd/system/$APP_NAME.service"

systemd_running() { [[ -z "$ROOT" && -d /run/systemd/system ]]; }

stop_service() {
  if ! systemd_running; then return 0; fi
  if systemctl cat "$APP_NAME.service" >/dev/null 2>&1; then
    # Stopping drains: the broker commits its log before it exits.
    systemctl disable --now "$APP_NAME.service" || say "could not stop/disable $APP_NAME.service (continuing)"
    say 'stopped and disabled the service'
  fi
}

remove_unit() {
  if [[ -e "$UNIT_FILE" ]]; then
    rm -f "$UNIT_FILE"
    say "removed $UNIT_FILE"
  fi
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed "$APP_NAME.service" 2>/dev/null || true
  fi
}

# Only what install.sh put there is removed: a symlink, or a directory carrying its marker.
remove_app() {
  if [[ -L "$APP_DIR" ]]; then
    rm "$APP_DIR"
  elif [[ -d "$APP_DIR" ]]; then
    [[ -f "$APP_DIR/$INSTALL_MARKER" ]] || die "$APP_DIR was not installed by install.sh; not removing it"
    rm -rf "$APP_DIR"
  else
    return 0
  fi
  say "removed $APP_DIR"
}

purge() {
  if [[ "$PURGE" -eq 0 ]]; then
    say "kept $CONFIG_DIR and $DATA_DIR (use --purge to delete them)"
    return 0
  fi
  rm -rf "$CONFIG_DIR" "$DATA_DIR"
  say "deleted $CONFIG_DIR and $DATA_DIR"
  if [[ -n "$ROOT" ]]; then return 0; fi
  if getent passwd "$SERVICE_USER" >/dev/null; then userdel "$SERVICE_USER"; say "deleted user $SERVICE_USER"; fi
  if getent group "$SERVICE_USER" >/dev/null; then groupdel "$SERVICE_USER"; say "deleted group $SERVICE_USER"; fi
}

if [[ -z "$ROOT" && "$(id -u)" -ne 0 ]]; then die 'run as root (sudo), or pass --root DIR'; fi
stop_service
remove_unit
remove_app
purge
say done
