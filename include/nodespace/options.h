// Options for opening a database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nodespace {

// How hard a commit works to survive failures. See docs/ARCHITECTURE.md,
// "Durability".
enum class Durability : uint8_t {
  // WAL + synchronous=FULL: an acknowledged write survives a process crash and
  // power loss (the WAL is fsynced on every commit). The default.
  kFull,
  // WAL + synchronous=NORMAL: survives a process crash; the last commits before
  // a power loss or OS crash may be rolled back (never corrupted). Faster for
  // many small transactions.
  kNormal,
};

struct Options {
  // Create the database directory and schema when missing.
  bool create_if_missing = true;
  // Fail when the database already exists.
  bool error_if_exists = false;
  // Open for reading only (no schema migration, no writes).
  bool read_only = false;

  Durability durability = Durability::kFull;

  // How long a writer waits for another process's write lock before kBusy.
  int busy_timeout_ms = 10000;

  // Input limits; a write that exceeds them fails with kInvalidArgument.
  size_t max_content_bytes = 1 << 20;     // 1 MiB of markdown per node
  size_t max_properties_bytes = 1 << 20;  // 1 MiB of JSON per node
  size_t max_id_bytes = 256;

  // SQLite page cache per connection, in MiB.
  int page_cache_mib = 64;

  // Sibling order keys longer than this trigger a renumbering of the siblings
  // (one transaction). Keys grow only on repeated inserts at the same spot.
  size_t max_order_key_length = 48;
};

}  // namespace nodespace
