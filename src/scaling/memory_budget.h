// How the MemoryManager tier's memory is shared between SQLite and the rest.
//
// A tier names two figures, cache MB and vector cache MB. Together they are
// the memory budget of the engine and its vector service (when one runs):
// the growth benchmark judges the tier against both processes' resident
// sets. SQLite's page caches are the one part of that memory the engine can
// size at will, so SQLite gets what the budget leaves after the vector
// service and the engine's other memory (text and hierarchy indexes, query
// cache, vectors held in process, the heap's free space), never more than
// the tier's cache MB and never less than a floor below which most queries
// would re-read their index pages from the kernel.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "nodespace/scaling.h"

namespace nodespace::scaling {

struct MemoryUse {
  int64_t engine_resident_mb = 0;   // this process's resident set
  int64_t sqlite_mb = 0;            // of which SQLite's heap (sqlite3_memory_used)
  int64_t service_resident_mb = 0;  // the vector service's resident set (-1: unknown)
  bool service_running = false;
};

// cache MB + vector cache MB.
int64_t TierBudgetMb(const MemoryConfig& tier);
// What the budget keeps for a running vector service: its resident set, and
// never less than its own budget, the tier's vector cache MB (the engine
// sends it that). A service grows after the moment it is measured (a restart
// starts it small, a catch-up adds vectors), while SQLite's page cache fills
// up to its limit within seconds of queries: fitted around the service's
// size of the moment, the two together went past the tier. 0 when none runs.
int64_t ServiceShareMb(const MemoryConfig& tier, const MemoryUse& use);
// The least SQLite's heap limit goes to: an eighth of the tier's cache.
int64_t SqliteHeapFloorMb(const MemoryConfig& tier);
// SQLite's soft heap limit for `use` under `tier`: the budget less the
// service's share and the engine's memory besides SQLite, clamped to
// [SqliteHeapFloorMb, cache MB].
int64_t SqliteHeapLimitMb(const MemoryConfig& tier, const MemoryUse& use);
// Whether to move the limit from `current_mb` to `wanted_mb`: down always
// (it is what keeps the processes within the tier), up only by a sixteenth
// of the cache or more (each move resizes every connection's page cache; a
// smaller rise would chase measurement noise).
bool SqliteHeapLimitShouldMove(const MemoryConfig& tier, int64_t current_mb, int64_t wanted_mb);

// What an HNSW graph over `vectors` float vectors of `dims` dimensions with
// `hnsw_m` links per node holds when it walks on floats: the vectors, the
// level-0 links (2m and a count) and, on average, 16 bytes of upper levels
// and slot maps. An estimate from the layout (docs/formats/vector-index.md),
// not a measurement.
int64_t FloatGraphMb(int64_t vectors, int64_t dims, int64_t hnsw_m);
// Whether the vector service's graphs should walk on int8 codes (a quarter
// of the floats' bytes) under `tier`: once a float graph would fill three
// quarters of the vector cache, or the service's resident set is over the
// whole of it. The quarter left is for what the service holds besides the
// graph walk (new slots' floats during a catch-up, query buffers, its heap)
// and for the vectors that arrive before the next check: switching before
// the service grows costs nothing it would not cost later, while switching
// after it has grown leaves the processes over the tier until then.
bool GraphsShouldWalkOnCodes(const MemoryConfig& tier, int64_t float_graph_mb,
                             int64_t service_resident_mb);

}  // namespace nodespace::scaling
