// A cheap answer to "is this text a JSON object?" for the write path, which
// must reject malformed properties but needs a DOM only when a schema applies.
#pragma once

#include <string_view>

namespace nodespace::json_shape {

enum class Shape { kInvalid, kObject, kOtherValue };

// Validates `text` as one JSON value. simdjson checks the common case at
// gigabytes per second; what it refuses (e.g. integers beyond 64 bits, which
// JSON allows) is decided by nlohmann::json, the parser used for the DOM.
// Thread-safe.
Shape Classify(std::string_view text);

}  // namespace nodespace::json_shape
