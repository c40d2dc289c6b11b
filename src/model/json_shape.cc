#include "model/json_shape.h"

#include <simdjson.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace nodespace::json_shape {

namespace {

// Deepest nesting of arrays and objects, outside strings. Stops counting
// once past `limit`.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Shape Classify(std::string_view text) {
  if (NestingDepth(text, kMaxNesting) > kMaxNesting) return Shape::kTooDeep;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (!parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(element)) {
    return element.is_object() ? Shape::kObject : Shape::kOtherValue;
  }
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Shape::kInvalid;
  return value.is_object() ? Shape::kObject : Shape::kOtherValue;
}

}  // namespace nodespace::json_shape
