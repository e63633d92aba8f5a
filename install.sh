#!/usr/bin/env bash
# Install (or upgrade in place) fazt on a Debian/Ubuntu machine, amd64 or arm64.
#
#   curl -fsSL https://fazt.sh/install.sh | sudo bash
#   curl -fsSL https://fazt.sh/install.sh | sudo bash -s -- --service --domain example.com \
#       --email me@example.com --https
#
# What it does, each step printed as it goes (docs/install.md):
#   1. installs python3, python3-venv, curl and openssl with apt (unless --no-apt)
#   2. downloads the release index and its Ed25519 signature, and checks the signature
#      with openssl against the public keys written below; nothing unverified is used
#   3. downloads the artifact for this machine and checks its size and sha256 from the
#      signed index
#   4. installs it as <root>/releases/<version> (a Python venv, from the wheels in the
#      artifact, no package registry needed), points <root>/current at it (and
#      <root>/previous at the version it replaces) and links <bin>/fazt
#   5. offers `fazt service install` (asks only on a terminal; --service for scripts)
# Running it again installs the newest release next to the old one and switches over.
#
# Environment: FAZT_RELEASE_URL (the index), FAZT_VERSION (a version instead of the
# newest), FAZT_INSTALL_ROOT (default /opt/fazt), FAZT_BIN_DIR (default /usr/local/bin),
# FAZT_TRUSTED_KEYS (extra base64 Ed25519 public keys, for releases you sign yourself).
set -euo pipefail

# BEGIN FAZT RELEASE KEYS (= OFFICIAL_KEYS in src/fazt/release/keys.py; a test checks it)
FAZT_RELEASE_KEYS="WdNPU7zN02U4W3byjVUfHsytCy94kNBHRsiejyY5p0s="
# END FAZT RELEASE KEYS

RELEASE_URL="${FAZT_RELEASE_URL:-https://fazt.sh/releases/releases.json}"
VERSION="${FAZT_VERSION:-}"
ROOT="${FAZT_INSTALL_ROOT:-/opt/fazt}"
BIN_DIR="${FAZT_BIN_DIR:-/usr/local/bin}"
APT=1
SERVICE=""
DOMAIN=""
EMAIL=""
HTTPS=""
PORT=""
PACKAGES="python3 python3-venv curl openssl ca-certificates"

say() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
trap 'printf "error: install.sh stopped: \`%s\` failed (line %s)\n" "$BASH_COMMAND" "$LINENO" >&2' ERR

usage() {
  cat <<EOF
Usage: install.sh [--no-apt] [--version V] [--url INDEX_URL]
                  [--service --domain D [--email E --https] [--port P]]

  --no-apt        do not install packages (python3 >= 3.11, python3-venv, curl, openssl)
  --version V     install version V instead of the newest
  --url URL       the release index (default: \$FAZT_RELEASE_URL or fazt.sh)
  --service       then run \`fazt service install\` without asking
  --no-service    do not offer it
  --domain D      domain for the service; --email E --https for certificates
  --port P        plain HTTP port for the service (default 80)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --no-apt) APT=0 ;;
    --service) SERVICE=1 ;;
    --no-service) SERVICE=0 ;;
    --domain) DOMAIN="${2:?--domain needs a value}"; shift ;;
    --email) EMAIL="${2:?--email needs a value}"; shift ;;
    --https) HTTPS=1 ;;
    --port) PORT="${2:?--port needs a value}"; shift ;;
    --version) VERSION="${2:?--version needs a value}"; shift ;;
    --url) RELEASE_URL="${2:?--url needs a value}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

[ "$SERVICE" != 1 ] || [ -n "$DOMAIN" ] || die "--service needs --domain D"
[ -z "$HTTPS" ] || [ -n "$EMAIL" ] || die "--https needs --email E (a contact for Let's Encrypt)"

# -- 1. this machine -----------------------------------------------------------------------
say "Checking this machine"
[ "$(uname -s)" = Linux ] || die "fazt installs on Linux only (this is $(uname -s))"
case "$(uname -m)" in
  x86_64 | amd64) ARCH=x86_64 ;;
  aarch64 | arm64) ARCH=aarch64 ;;
  *) die "unsupported CPU architecture $(uname -m): fazt releases exist for x86_64 and aarch64" ;;
esac
TAG="linux-$ARCH"
info "platform $TAG, install root $ROOT, command in $BIN_DIR"
if [ "$(id -u)" != 0 ]; then
  for dir in "$ROOT" "$BIN_DIR"; do
    probe="$dir"
    while [ ! -e "$probe" ]; do probe="$(dirname "$probe")"; done
    [ -w "$probe" ] || die "cannot write to $dir: run as root (curl -fsSL .../install.sh | sudo bash)"
  done
  [ "$APT" = 0 ] || die "installing packages needs root: run with sudo, or pass --no-apt"
fi

if [ "$APT" = 1 ]; then
  say "Installing the packages fazt needs: $PACKAGES"
  command -v apt-get >/dev/null ||
    die "apt-get not found: this installer is for Debian/Ubuntu (install $PACKAGES yourself and pass --no-apt)"
  missing=""
  for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    info "apt-get install$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || die "apt-get install$missing failed"
  else
    info "all present"
  fi
fi
for tool in python3 curl openssl sha256sum tar base64; do
  command -v "$tool" >/dev/null || die "$tool is missing (install it, or run without --no-apt)"
done
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "fazt needs Python 3.11 or newer; this machine has $(python3 --version 2>&1)"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 cannot create virtual environments: install python3-venv"
case "$(openssl version)" in
  "OpenSSL 1."* | "OpenSSL 0."*) die "checking Ed25519 signatures needs OpenSSL 3 (this machine has $(openssl version))" ;;
esac

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fetch() { # URL FILE: quiet download that fails on HTTP errors, with a clear message
  local code=0
  curl -fsSL --retry 2 --connect-timeout 15 -o "$2" "$1" || code=$?
  [ "$code" = 0 ] || die "cannot download $1 (curl exit code $code)"
}

# -- 2. the signed index -------------------------------------------------------------------
say "Downloading the release index $RELEASE_URL"
fetch "$RELEASE_URL" "$TMP/releases.json"
fetch "$RELEASE_URL.sig" "$TMP/releases.json.sig"

say "Checking the index's Ed25519 signature"
base64 -d "$TMP/releases.json.sig" >"$TMP/sig.bin" 2>/dev/null ||
  die "$RELEASE_URL.sig is not a base64 signature"
verified=""
for key in $FAZT_RELEASE_KEYS ${FAZT_TRUSTED_KEYS:-}; do
  # An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte header followed by the raw key.
  { printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00' && printf '%s' "$key" | base64 -d; } \
    >"$TMP/key.der" 2>/dev/null || continue
  [ "$(wc -c <"$TMP/key.der")" = 44 ] || continue
  if openssl pkeyutl -verify -pubin -keyform DER -inkey "$TMP/key.der" -rawin \
    -in "$TMP/releases.json" -sigfile "$TMP/sig.bin" >/dev/null 2>&1; then
    verified="$key"
    break
  fi
done
[ -n "$verified" ] ||
  die "the signature of $RELEASE_URL does not verify with a trusted fazt release key: refusing to install anything"
info "signed by $verified"

# The newest version (or the one asked for) and its artifact for this platform.
if ! python3 - "$TMP/releases.json" "$RELEASE_URL" "$TAG" "$VERSION" >"$TMP/pick" 2>"$TMP/pick.err" <<'PY'; then
import json, re, sys
from urllib.parse import urljoin

path, url, tag, wanted = sys.argv[1:5]
def key(v):
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.+-]", v))
releases = [r for r in json.load(open(path))["releases"] if isinstance(r, dict)]
if not releases:
    sys.exit("the index lists no releases")
version = wanted or max((r["version"] for r in releases), key=key)
entry = next((r for r in releases if r.get("version") == version), None)
if entry is None:
    sys.exit(f"version {version} is not in the index")
art = (entry.get("artifacts") or {}).get(tag)
if not art:
    sys.exit(f"version {version} has no artifact for {tag}")
if not re.fullmatch(r"[0-9A-Za-z.+-]+", version) or not re.fullmatch(r"[0-9a-f]{64}", art["sha256"]):
    sys.exit("malformed index entry")
print(version, int(art["size"]), art["sha256"], urljoin(url, art.get("url") or art["file"]))
PY
  die "cannot use $RELEASE_URL: $(tail -n 1 "$TMP/pick.err")"
fi
read -r VERSION SIZE SHA256 ARTIFACT_URL <"$TMP/pick"
info "version $VERSION for $TAG"

CURRENT=""
if [ -L "$ROOT/current" ]; then CURRENT="$(basename "$(readlink "$ROOT/current")")"; fi
FINAL="$ROOT/releases/$VERSION"

if "$FINAL/bin/fazt" --version 2>/dev/null | grep -qx "fazt $VERSION"; then
  say "fazt $VERSION is already installed in $FINAL"
else
  # -- 3. the artifact ---------------------------------------------------------------------
  say "Downloading $ARTIFACT_URL"
  fetch "$ARTIFACT_URL" "$TMP/artifact.tar.gz"
  say "Checking its size and sha256 against the signed index"
  got_size="$(wc -c <"$TMP/artifact.tar.gz" | tr -d ' ')"
  [ "$got_size" = "$SIZE" ] || die "the artifact is $got_size bytes, the signed index says $SIZE: refusing to install it"
  got_sha="$(sha256sum "$TMP/artifact.tar.gz" | cut -d' ' -f1)"
  [ "$got_sha" = "$SHA256" ] || die "the artifact's sha256 is $got_sha, the signed index says $SHA256: refusing to install it"
  info "sha256 $got_sha ok"

  # -- 4. install side by side and switch ---------------------------------------------------
  say "Installing fazt $VERSION into $FINAL"
  mkdir -p "$ROOT/releases" "$TMP/unpacked"
  tar -xzf "$TMP/artifact.tar.gz" -C "$TMP/unpacked" --no-same-owner ||
    die "the artifact is not a valid tar.gz"
  WHEELS="$TMP/unpacked/fazt-$VERSION/wheels"
  [ -d "$WHEELS" ] || die "the artifact holds no fazt-$VERSION/wheels folder"
  PARTIAL="$ROOT/releases/.$VERSION.partial"
  rm -rf "$PARTIAL"
  python3 -m venv --prompt "fazt-$VERSION" "$PARTIAL" || die "python3 -m venv $PARTIAL failed"
  "$PARTIAL/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$WHEELS" "fazt==$VERSION" || die "installing the wheels of fazt $VERSION failed"
  "$PARTIAL/bin/fazt" --version | grep -qx "fazt $VERSION" || die "the installed fazt does not report version $VERSION"
  rm -rf "$FINAL"
  mv "$PARTIAL" "$FINAL"
  # A venv's scripts (shebangs, activate) carry its absolute path: rewrite them for the
  # final place. -I skips binary files.
  { grep -lIF "$PARTIAL" "$FINAL"/bin/* || true; } | while read -r script; do
    [ -L "$script" ] || sed -i "s|$PARTIAL|$FINAL|g" "$script"
  done
  "$FINAL/bin/fazt" --version | grep -qx "fazt $VERSION" || die "$FINAL/bin/fazt does not run"
fi

if [ "$CURRENT" != "$VERSION" ]; then
  say "Switching $ROOT/current to $VERSION"
  if [ -n "$CURRENT" ]; then
    ln -sfn "releases/$CURRENT" "$ROOT/.previous.tmp" && mv -Tf "$ROOT/.previous.tmp" "$ROOT/previous"
    info "previous -> $CURRENT (kept for rollback)"
  fi
  ln -sfn "releases/$VERSION" "$ROOT/.current.tmp" && mv -Tf "$ROOT/.current.tmp" "$ROOT/current"
fi

say "Linking $BIN_DIR/fazt -> $ROOT/current/bin/fazt"
mkdir -p "$BIN_DIR"
if [ -e "$BIN_DIR/fazt" ] && [ ! -L "$BIN_DIR/fazt" ]; then
  die "$BIN_DIR/fazt exists and is not a link: move it away and run install.sh again"
fi
ln -sfn "$ROOT/current/bin/fazt" "$BIN_DIR/.fazt.tmp" && mv -Tf "$BIN_DIR/.fazt.tmp" "$BIN_DIR/fazt"

# An installed service runs as its own user, who owns the install root (self-upgrades).
UNIT=/etc/systemd/system/fazt.service
if [ -f "$UNIT" ] && grep -q "ReadWritePaths=.* $ROOT\$" "$UNIT" && id fazt >/dev/null 2>&1; then
  chown -R fazt:fazt "$ROOT"
  if [ -n "$CURRENT" ] && [ "$CURRENT" != "$VERSION" ] && systemctl is-active --quiet fazt 2>/dev/null; then
    say "Restarting the fazt service on $VERSION"
    systemctl restart fazt || die "systemctl restart fazt failed: see journalctl -u fazt -n 50"
  fi
fi

say "fazt $VERSION is installed: $("$BIN_DIR/fazt" --version)"

# -- 5. the service ------------------------------------------------------------------------
service_args=()
if [ -z "$SERVICE" ] && [ ! -f "$UNIT" ] && [ -r /dev/tty ] && [ -t 1 ]; then
  printf 'Install fazt as a system service now (needs a domain)? [y/N] ' >/dev/tty
  read -r answer </dev/tty || answer=""
  case "$answer" in
    y | Y | yes)
      SERVICE=1
      printf 'Domain (e.g. example.com): ' >/dev/tty
      read -r DOMAIN </dev/tty
      printf 'Email for Let'"'"'s Encrypt (empty: plain HTTP): ' >/dev/tty
      read -r EMAIL </dev/tty
      [ -z "$EMAIL" ] || HTTPS=1
      ;;
  esac
fi
if [ "$SERVICE" = 1 ]; then
  [ -n "$DOMAIN" ] || die "--service needs --domain D"
  service_args=(--domain "$DOMAIN" --root "$ROOT")
  [ -z "$EMAIL" ] || service_args+=(--email "$EMAIL")
  [ -z "$HTTPS" ] || service_args+=(--https)
  [ -z "$PORT" ] || service_args+=(--port "$PORT")
  say "Running: fazt service install ${service_args[*]}"
  "$BIN_DIR/fazt" service install "${service_args[@]}" || die "fazt service install failed (see above)"
elif [ ! -f "$UNIT" ]; then
  info "Next: sudo fazt service install --domain example.com [--email you@example.com --https]"
  info "  or: fazt server start (for a try on this machine)"
fi
