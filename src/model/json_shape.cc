#include "model/json_shape.h"

#include <simdjson.h>

#include <nlohmann/json.hpp>

namespace nodespace::json_shape {

Shape Classify(std::string_view text) {
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
