// Node identifiers: UUIDv7 for ordinary nodes, YYYY-MM-DD for date nodes.
#pragma once

#include <string>
#include <string_view>

#include "nodespace/node.h"

namespace nodespace::ids {

// A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits, with a
// counter that keeps ids from one process strictly increasing within a
// millisecond. Thread-safe.
std::string NewUuidV7();

// Whether `id` is a calendar date written YYYY-MM-DD (a date node's id).
bool IsDateId(std::string_view id);

// Whether `id` is acceptable as a node id: 1..max_bytes bytes of printable
// ASCII or UTF-8, no whitespace or control characters.
bool IsValidId(std::string_view id, size_t max_bytes);

// Current time in milliseconds since the Unix epoch.
TimestampMs NowMs();

// "2024-05-01T12:00:00.123Z" (milliseconds omitted when zero).
std::string FormatTimestamp(TimestampMs ms);
// Accepts ISO 8601 UTC ("2024-05-01", "2024-05-01T12:00:00Z", with optional
// fraction and +hh:mm offset) or an integer of milliseconds.
bool ParseTimestamp(std::string_view text, TimestampMs* out);

}  // namespace nodespace::ids
