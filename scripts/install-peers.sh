#!/usr/bin/env bash
# Installs the real peers the end-to-end tests run against (Prometheus 2.42 as remote-write
# sender and receiver, vmagent as the proxy to compare with) into .peers/ of the repo.
#
# Debian packages are downloaded and unpacked with dpkg -x, not installed: nothing on the
# machine changes, no service starts, and the binaries live at stable paths:
#   .peers/usr/bin/prometheus
#   .peers/usr/bin/vmagent
# Also installs Debian's chromium (system-wide, for the dashboard's browser tests) when
# /usr/bin/chromium is missing.
# Idempotent: when both binaries are there it does nothing. Needs root only for
# `apt-get update`, which runs once, and only when a download is needed.
set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers_dir="${PHOENIX_PEERS_DIR:-$repo_dir/.peers}"
cache_dir="$peers_dir/cache"
prometheus_bin="$peers_dir/usr/bin/prometheus"
vmagent_bin="$peers_dir/usr/bin/vmagent"

# The dashboard's browser tests (test/ui/) drive Debian's Chromium, which runs only when
# installed system-wide (its sandbox helper and shared libraries). Installed only when
# missing and when running as root, as CI does on a fresh machine; otherwise the tests
# say how to get it.
chromium_bin="${PHOENIX_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium_bin" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "install-peers: installing Debian's chromium for the dashboard tests" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2
  else
    echo "install-peers: $chromium_bin is missing; the dashboard tests need it" \
      "(as root: apt-get install chromium)" >&2
  fi
fi

if [[ -x "$prometheus_bin" && -x "$vmagent_bin" ]]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "install-peers: apt-get and dpkg are needed to fetch prometheus and victoria-metrics;" \
    "install them by hand and unpack into $peers_dir (see docs/testing.md)" >&2
  exit 1
fi

mkdir -p "$cache_dir"
echo "install-peers: downloading prometheus and victoria-metrics into $cache_dir" >&2
apt-get update -qq >&2
# apt-get download writes into the current directory; downloading as root (not the _apt
# user) lets it write into a folder that _apt cannot.
(cd "$cache_dir" && apt-get download -qq -o APT::Sandbox::User=root prometheus victoria-metrics >&2)

for deb in "$cache_dir"/prometheus_*.deb "$cache_dir"/victoria-metrics_*.deb; do
  dpkg -x "$deb" "$peers_dir"
done

# The victoria-metrics package has shipped vmagent under more than one name; give the
# tests one stable path whatever this version calls it.
if [[ ! -x "$vmagent_bin" ]]; then
  for candidate in "$peers_dir/usr/bin/victoria-metrics-vmagent" "$peers_dir/usr/sbin/vmagent"; do
    if [[ -x "$candidate" ]]; then
      ln -sf "$candidate" "$vmagent_bin"
      break
    fi
  done
fi

for bin in "$prometheus_bin" "$vmagent_bin"; do
  if [[ ! -x "$bin" ]]; then
    echo "install-peers: $bin is missing after unpacking; package contents:" >&2
    ls -R "$peers_dir/usr/bin" >&2 || true
    exit 1
  fi
done
echo "install-peers: $("$prometheus_bin" --version 2>&1 | head -n1)" >&2
