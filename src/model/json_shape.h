// A cheap answer to "is this text a JSON object?" for the write path, which
// must reject malformed properties but needs a DOM only when a schema applies.
#pragma once

#include <string_view>

namespace nodespace::json_shape {

enum class Shape { kInvalid, kObject, kOtherValue, kTooDeep };

// Arrays and objects nested deeper than this are refused: SQLite's JSON
// functions (filters, expression indexes) stop at 1,000 levels, and a stored
// value they cannot read would break every query and index that touches it.
inline constexpr int kMaxNesting = 512;

// Validates `text` as one JSON value. simdjson checks the common case at
// gigabytes per second; what it refuses (e.g. integers beyond 64 bits, which
// JSON allows) is decided by nlohmann::json, the parser used for the DOM.
// kTooDeep: valid or not, nested deeper than kMaxNesting. Thread-safe.
Shape Classify(std::string_view text);

}  // namespace nodespace::json_shape
