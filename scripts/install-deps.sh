#!/usr/bin/env bash
# Installs everything NodeSpace needs on a fresh Debian 12 (bookworm) machine.
# Used by the README and by CI. Safe to run again.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev clang-format clang-tidy
  libsqlite3-dev sqlite3 nlohmann-json3-dev libsimdjson-dev libcli11-dev
  libstemmer-dev libeigen3-dev libcpp-httplib-dev libhnswlib-dev
  libmd4c-dev libyaml-cpp-dev prometheus-cpp-dev libssl-dev
  prometheus
  libgtest-dev libgmock-dev
  python3 wordnet-base curl
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
