#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build
# (unit, script and crash tests, including the 100-kill slow tier) and the
# unit and script tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
JOBS="$(nproc)"

cmake --preset release
cmake --build build/release -j "$JOBS"
ctest --test-dir build/release --output-on-failure -j "$JOBS"

if [ "${NODESPACE_SKIP_ASAN:-0}" != "1" ]; then
  cmake --preset debug-asan
  cmake --build build/asan -j "$JOBS"
  # The slow crash tier and the browser tests already ran in release;
  # sanitizers run the quick tier. The stress sizes of four tests (thousands
  # of inserts at one spot, recall on 5,000 vectors, slot churn, the split
  # killed 12 times) ran in release too; under the sanitizers the same code
  # runs in the smaller tests, and these four alone would take 3.5 minutes.
  ctest --test-dir build/asan --output-on-failure -j "$JOBS" -LE "slow|e2e" \
    -E "OrderingSurvivesThousandsOfInsertsAtOneSpot|RecallAt10On5kRandom64dWithDefaults|ChurnReusesSlotsAndKeepsRecall|^crash\.split\$"
fi
