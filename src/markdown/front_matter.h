// YAML front matter: the `---` block at the top of a Markdown file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "nodespace/status.h"

namespace nodespace::markdown {

struct FrontMatter {
  bool present = false;
  std::string_view yaml;  // between the fences
  std::string_view body;  // the rest of the file
  int body_line = 0;      // 0-based line of the file where `body` starts
};

// Splits `text` at a front matter block: "---\n" first line, closed by a
// line "---" or "...". Without a closing fence there is no front matter.
FrontMatter SplitFrontMatter(std::string_view text);

// Parses front matter into a JSON object, keeping the YAML types: booleans,
// integers, floats, strings, lists and maps (dates stay strings). An empty
// block is {}. InvalidArgument with yaml-cpp's line and reason when it is
// malformed or not a map.
Result<nlohmann::json> ParseFrontMatter(std::string_view yaml);

// The inverse: a YAML block (without fences) for a JSON object, ending in a
// newline. ParseFrontMatter(EmitFrontMatter(j)) == j for the types above.
std::string EmitFrontMatter(const nlohmann::json& object);

}  // namespace nodespace::markdown
