#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the release build
# (unit, script and crash tests, including the 100-kill slow tier) and the
# unit and script tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage says when it starts, in seconds since the script began.
stage() { echo "== ${SECONDS}s: $*"; }

stage "installing dependencies"
./scripts/install-deps.sh
JOBS="$(nproc)"

# The benchmarks are not tests (docs/BENCHMARKS.md builds them with
# -DNODESPACE_BUILD_BENCH=ON).
stage "release build"
cmake --preset release -DNODESPACE_BUILD_BENCH=OFF
cmake --build build/release -j "$JOBS"
stage "release tests"
ctest --test-dir build/release --output-on-failure -j "$JOBS"

if [ "${NODESPACE_SKIP_ASAN:-0}" != "1" ]; then
  # The dashboard's browser tests run against the release build only.
  stage "sanitizer build"
  cmake --preset debug-asan -DNODESPACE_BUILD_DASHBOARD=OFF
  cmake --build build/asan -j "$JOBS"
  stage "sanitizer tests"
  # The slow crash tier and the browser tests already ran in release;
  # sanitizers run the quick tier. The stress sizes of seven tests (thousands
  # of inserts at one spot, graph recall and brute-force agreement on
  # thousands of vectors, slot churn, the split killed 12 times) ran in
  # release; under the sanitizers the same code runs in smaller tests, and
  # these alone would take 4.5 minutes of the run. (So would the 65 MB vector
  # service that outgrows its vector cache.)
  ctest --test-dir build/asan --output-on-failure -j "$JOBS" -LE "slow|e2e" \
    -E "OrderingSurvivesThousandsOfInsertsAtOneSpot|RecallAt10On5kRandom64dWithDefaults|ChurnReusesSlotsAndKeepsRecall|GraphSearchAgreesWithExactSearch|Int8RescoringKeepsFloatRecall|FiltersMatchBruteForceAtEverySelectivity|AServiceOverTheVectorCacheWalksOnInt8Codes|AFloatGraphNearTheVectorCacheWalksOnCodesBeforeTheServiceGrows|^crash\.split\$"
fi
stage "done"
