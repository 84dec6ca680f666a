#!/usr/bin/env bash
# Installs store-gateway as a systemd service on Debian (docs/OPERATIONS.md, "Install").
#
#   sudo systemd/install.sh [--ble] [--no-start]    install or upgrade from this package directory
#   sudo systemd/install.sh --uninstall [--purge]   remove it (the buffer and config stay unless --purge)
#   sudo systemd/install.sh --root DIR ...          the same, into a root file system folder
#
# Run it from a checkout (it builds dist/ when the dev dependencies are there) or from an unpacked
# release that already has dist/. It is idempotent: running it again changes nothing but the package
# files, and an upgrade keeps /etc/store-gateway (config, .prev) and /var/lib/store-gateway (buffer).
#
# What it does, in order:
#   1. the group and system user store-gateway (no login, home /var/lib/store-gateway);
#   2. the package in /opt/store-gateway (root-owned, read-only for the service), with its
#      production node_modules (reused when package-lock.json and the Node ABI are unchanged);
#   3. /etc/store-gateway (root:store-gateway 0770, so apply-config can replace config.yaml),
#      config.yaml from config/default.yaml if there is none, /var/lib/store-gateway (0750),
#      /etc/credstore (0700) for the LoadCredential= secrets;
#   4. the unit (and with --ble the drop-in for BLE receivers), the udev rules, and
#      /etc/modules-load.d/store-gateway.conf (usbserial, cdc_acm: the unit's DeviceAllow= needs
#      their device majors at start);
#   5. when systemd runs this machine: daemon-reload, udev reload, enable, and start or restart
#      (after `config check` passes; a fresh placeholder config is not started). Otherwise (--root,
#      a container, a chroot) it enables the unit offline and prints what is left to do.
set -euo pipefail

NAME=store-gateway
PREFIX=/opt/store-gateway
ROOT=''
ACTION=install
PURGE=0
START=1
BUILD=1
BLE=keep

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

Options:
  --root DIR     install into the root file system at DIR (it must have etc/passwd, etc/group,
                 etc/shadow, etc/gshadow); nothing is started
  --prefix DIR   package directory (default /opt/store-gateway)
  --ble          install the BLE drop-in (CAP_NET_RAW, CAP_NET_ADMIN, AF_BLUETOOTH)
  --no-ble       remove the BLE drop-in (by default an upgrade keeps what is there)
  --no-start     enable the service but do not start or restart it
  --no-build     use dist/ as it is (do not run npm run build)
  --uninstall    remove the service, rules, package and user; keep config and buffer
  --purge        with --uninstall: also delete /etc/store-gateway, /var/lib/store-gateway and the
                 store-gateway.* files in /etc/credstore
EOF
}

die() {
  printf '%s: %s\n' "$NAME install" "$*" >&2
  exit 1
}
say() { printf '%s: %s\n' "$NAME install" "$*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift ;;
    --root=*) ROOT=${1#--root=} ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --ble) BLE=yes ;;
    --no-ble) BLE=no ;;
    --no-start) START=0 ;;
    --no-build) BUILD=0 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

[ "$PURGE" = 0 ] || [ "$ACTION" = uninstall ] || die '--purge goes with --uninstall'
case "$PREFIX" in /*) ;; *) die "--prefix must be absolute: $PREFIX" ;; esac
[ "$(id -u)" = 0 ] || die 'run as root (sudo)'
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root: no directory $ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=''
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
R=$ROOT
PKG=$R$PREFIX
CONF=$R/etc/$NAME
STATE=$R/var/lib/$NAME
CREDSTORE=$R/etc/credstore
UNIT=$R/etc/systemd/system/$NAME.service
DROPIN_DIR=$R/etc/systemd/system/$NAME.service.d
RULES=$R/etc/udev/rules.d/99-$NAME.rules
MODULES=$R/etc/modules-load.d/$NAME.conf

# systemd runs this machine (sd_booted) and we install into it, not into a folder.
LIVE=0
if [ -z "$R" ] && [ -d /run/systemd/system ]; then LIVE=1; fi
# useradd/groupadd/userdel edit $R/etc without a chroot.
ACCOUNT_ARGS=()
[ -z "$R" ] || ACCOUNT_ARGS=(--prefix "$R")

later=()
not_now() {
  later+=("$*")
}

id_of() { # id_of passwd|group NAME → numeric id from the target's files, or nothing
  awk -F: -v n="$2" '$1 == n { print $3; exit }' "$R/etc/$1" 2>/dev/null || true
}

systemctl_offline() { systemctl --root="${R:-/}" "$@"; }

need_commands() { # need_commands CMD... → dies naming every one that is missing
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] ||
    die "missing: ${missing[*]} (Debian packages: passwd for the account tools, systemd for systemctl, nodejs and npm)"
}

# ---------------------------------------------------------------------------------------------
# install

ensure_account() {
  if [ -z "$(id_of group "$NAME")" ]; then
    groupadd "${ACCOUNT_ARGS[@]}" --system "$NAME"
    say "created group $NAME"
  fi
  if [ -z "$(id_of passwd "$NAME")" ]; then
    useradd "${ACCOUNT_ARGS[@]}" --system --gid "$NAME" --home-dir "/var/lib/$NAME" --no-create-home \
      --shell /usr/sbin/nologin --comment 'store-gateway service' "$NAME"
    say "created user $NAME"
  fi
  SG_UID=$(id_of passwd "$NAME")
  SG_GID=$(id_of group "$NAME")
  [ -n "$SG_UID" ] && [ -n "$SG_GID" ] || die "user or group $NAME missing after creating them"
}

build_if_possible() {
  if [ "$BUILD" = 1 ] && [ -x "$SRC/node_modules/.bin/tsc" ]; then
    say "building dist/ in $SRC"
    (cd "$SRC" && npm run build --silent)
  fi
  [ -f "$SRC/dist/src/cli/main.js" ] ||
    die "$SRC has no dist/: run 'npm ci && npm run build' there first, or use a release that includes dist/"
}

# Production dependencies, keyed by the lockfile and the Node ABI of the native modules.
deps_stamp() {
  printf '%s node-abi-%s\n' "$(sha256sum <"$SRC/package-lock.json" | cut -d' ' -f1)" \
    "$(node -p process.versions.modules)"
}

install_package() {
  local stage=$PKG.new stamp
  stamp=$(deps_stamp)
  rm -rf "$stage"
  mkdir -p "$stage"
  # Everything but development state: git, dependencies (installed below), tests, demo output.
  tar -C "$SRC" --exclude=./.git --exclude=./node_modules --exclude=./tests --exclude=./.demo \
    --exclude=./coverage --exclude=./test-artifacts --exclude=./.ci -cf - . | tar -C "$stage" -xf -
  if [ -d "$PKG/node_modules" ] && [ "$(cat "$PKG/.deps-stamp" 2>/dev/null)" = "$stamp" ]; then
    say 'dependencies unchanged: keeping the installed node_modules'
    mv "$PKG/node_modules" "$stage/node_modules"
  elif [ -d "$SRC/node_modules" ]; then
    say "copying node_modules from $SRC (without dev dependencies)"
    # Its contents: a node_modules that is a symlink (a shared cache) is copied, never pruned in place.
    mkdir "$stage/node_modules"
    cp -a "$SRC/node_modules/." "$stage/node_modules/"
    (cd "$stage" && npm prune --omit=dev --no-audit --no-fund --silent)
  else
    say 'installing production dependencies (npm ci --omit=dev; native modules are compiled)'
    (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --silent)
  fi
  (cd "$stage" && node -e "require('better-sqlite3'); require('unix-dgram')") ||
    die 'the native modules do not load with this Node.js; install g++, make and python3 and run again'
  printf '%s\n' "$stamp" >"$stage/.deps-stamp"
  chown -R 0:0 "$stage"
  chmod -R u+rwX,go+rX,go-w "$stage"
  if [ -d "$PKG" ]; then
    rm -rf "$PKG.old"
    mv "$PKG" "$PKG.old"
  fi
  mv "$stage" "$PKG"
  rm -rf "$PKG.old"
  say "package installed in $PKG ($(node -p "require('$PKG/package.json').version"))"
}

install_dirs() {
  install -d -m 0770 -o 0 -g "$SG_GID" "$CONF"
  if [ -f "$CONF/config.yaml" ]; then
    say "keeping $CONF/config.yaml"
    # Still the placeholder from a previous run: not started either.
    if cmp -s "$SRC/config/default.yaml" "$CONF/config.yaml"; then FRESH_CONFIG=1; else FRESH_CONFIG=0; fi
  else
    install -m 0640 -o 0 -g "$SG_GID" "$SRC/config/default.yaml" "$CONF/config.yaml"
    say "created $CONF/config.yaml from config/default.yaml: set store.id, gateway.id, mqtt.url and devices"
    FRESH_CONFIG=1
  fi
  install -d -m 0750 -o "$SG_UID" -g "$SG_GID" "$STATE"
  # A reinstall may have created the user with another uid; systemd does the same at start.
  chown -R "$SG_UID:$SG_GID" "$STATE"
  [ -d "$CREDSTORE" ] || install -d -m 0700 -o 0 -g 0 "$CREDSTORE"
}

# The unit names /opt/store-gateway; another --prefix is written into the installed copy.
install_unit() {
  install -d -m 0755 "$(dirname "$UNIT")"
  sed "s#/opt/store-gateway#$PREFIX#g" "$SRC/systemd/$NAME.service" >"$UNIT.tmp"
  chmod 0644 "$UNIT.tmp"
  mv "$UNIT.tmp" "$UNIT"
  local ble=$DROPIN_DIR/ble.conf
  if [ "$BLE" = yes ] || { [ "$BLE" = keep ] && [ -f "$ble" ]; }; then
    install -D -m 0644 "$SRC/systemd/$NAME.service.d/ble.conf" "$ble"
    say 'BLE drop-in installed (CAP_NET_RAW, CAP_NET_ADMIN, AF_BLUETOOTH)'
  elif [ "$BLE" = no ] && [ -f "$ble" ]; then
    rm -f "$ble"
    rmdir "$DROPIN_DIR" 2>/dev/null || true
    say 'BLE drop-in removed'
  fi
  install -D -m 0644 "$SRC/systemd/99-$NAME.rules" "$RULES"
  install -d -m 0755 "$(dirname "$MODULES")"
  printf '# store-gateway: the serial drivers, loaded at boot so the unit'"'"'s DeviceAllow= finds their majors\nusbserial\ncdc_acm\n' >"$MODULES"
  chmod 0644 "$MODULES"
  say "installed $UNIT, $RULES, $MODULES"
}

config_ok() {
  node "$PKG/bin/store-gateway.js" config check "$CONF/config.yaml"
}

activate() {
  if [ "$LIVE" = 1 ]; then
    systemctl daemon-reload
    udevadm control --reload-rules || true
    udevadm trigger --action=change --subsystem-match=tty --subsystem-match=hidraw || true
    modprobe -a usbserial cdc_acm 2>/dev/null || true
    systemctl enable "$NAME.service"
  else
    systemctl_offline enable "$NAME.service"
    not_now 'systemctl daemon-reload'
    not_now 'udevadm control --reload-rules && udevadm trigger --subsystem-match=tty --subsystem-match=hidraw'
  fi
  if [ "$START" = 0 ]; then
    say 'enabled; not started (--no-start)'
    return
  fi
  if [ "$FRESH_CONFIG" = 1 ]; then
    say "not starting with the placeholder config: edit /etc/$NAME/config.yaml, then"
    say "  node $PREFIX/bin/store-gateway.js config check /etc/$NAME/config.yaml && systemctl start $NAME"
    return
  fi
  if [ "$LIVE" = 0 ]; then
    not_now "systemctl restart $NAME (or start it)"
    return
  fi
  if ! config_ok; then
    die "$CONF/config.yaml is invalid (above): the service was not restarted"
  fi
  if systemctl is-active --quiet "$NAME.service"; then
    systemctl restart "$NAME.service"
    say 'restarted'
  else
    systemctl start "$NAME.service"
    say 'started'
  fi
  say "status: systemctl status $NAME; logs: journalctl -u $NAME"
}

do_install() {
  need_commands groupadd useradd systemctl node npm tar sha256sum install
  ensure_account
  build_if_possible
  install_package
  install_dirs
  install_unit
  activate
}

# ---------------------------------------------------------------------------------------------
# uninstall

do_uninstall() {
  need_commands groupdel userdel systemctl
  if [ "$LIVE" = 1 ]; then
    systemctl disable --now "$NAME.service" 2>/dev/null || true
  elif [ -f "$UNIT" ]; then
    systemctl_offline disable "$NAME.service" || true
    not_now "systemctl stop $NAME; systemctl daemon-reload"
  fi
  rm -f "$UNIT" "$RULES" "$MODULES"
  rm -rf "$DROPIN_DIR"
  if [ "$LIVE" = 1 ]; then
    systemctl daemon-reload
    udevadm control --reload-rules || true
  fi
  rm -rf "$PKG" "$PKG.new" "$PKG.old"
  if [ -n "$(id_of passwd "$NAME")" ]; then
    userdel "${ACCOUNT_ARGS[@]}" "$NAME"
    say "removed user $NAME"
  fi
  if [ -n "$(id_of group "$NAME")" ]; then
    groupdel "${ACCOUNT_ARGS[@]}" "$NAME"
    say "removed group $NAME"
  fi
  if [ "$PURGE" = 1 ]; then
    rm -rf "$CONF" "$STATE"
    rm -f "$CREDSTORE/$NAME".*
    say "purged $CONF, $STATE and $CREDSTORE/$NAME.*"
  else
    say "kept $CONF and $STATE (the buffer); --uninstall --purge deletes them"
  fi
}

if [ "$ACTION" = install ]; then do_install; else do_uninstall; fi

if [ ${#later[@]} -gt 0 ]; then
  if [ -n "$R" ]; then
    say "installed into $R; systemd is not running there. On that system, run:"
  else
    say 'systemd is not running here (container or chroot). Once it is, run:'
  fi
  for step in "${later[@]}"; do say "  $step"; done
fi
