#!/usr/bin/env bash
# Installs everything NodeSpace needs on a fresh Debian 12 (bookworm) machine.
# Used by the README and by CI. Safe to run again.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev clang-format clang-tidy
  libsqlite3-dev sqlite3 nlohmann-json3-dev libsimdjson-dev libcli11-dev
  libstemmer-dev libeigen3-dev libcpp-httplib-dev libhnswlib-dev
  libmd4c-dev libyaml-cpp-dev libabsl-dev prometheus-cpp-dev libssl-dev libarchive-dev zlib1g-dev
  prometheus chromium
  libgtest-dev libgmock-dev
  python3 wordnet-base curl
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm build the dashboard (web/); Debian's are enough, and a
# newer Node already on the machine is used as it is.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The dashboard's npm packages, exactly as package-lock.json pins them
# (skipped when they were installed from this very lock file).
cd "$(dirname "$0")/../web"
if ! cmp -s package-lock.json node_modules/.installed-from-lock 2>/dev/null; then
  echo "install-deps: npm ci (web/)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-from-lock
fi
