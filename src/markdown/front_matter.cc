#include "markdown/front_matter.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

namespace nodespace::markdown {
namespace {

bool IsFence(std::string_view line, bool closing) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line == "---" || (closing && line == "...");
}

// A plain (unquoted) scalar keeps its YAML 1.2 core-schema type; a quoted one
// is always a string.
nlohmann::json ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  char* end = nullptr;
  const long long i = std::strtoll(s.c_str(), &end, 10);
  if (end && *end == '\0' && (std::isdigit(static_cast<unsigned char>(s.back())))) {
    if (s.size() < 19) return i;
  }
  const bool looks_numeric = s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                             s.find_first_of("0123456789") != std::string::npos;
  if (looks_numeric) {
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  return s;
}

nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(ToJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = ToJson(kv.second);
      return obj;
    }
    default:
      return nullptr;
  }
}

void Emit(const nlohmann::json& j, YAML::Emitter& out) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      Emit(v, out);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) Emit(v, out);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    // Quote a string that would read back as another type.
    const nlohmann::json back = ScalarToJson(YAML::Node(s));
    if (!back.is_string() || s.empty()) {
      out << YAML::DoubleQuoted << s;
    } else {
      out << s;
    }
  } else if (j.is_boolean()) {
    out << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else if (j.is_number()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

}  // namespace

FrontMatter SplitFrontMatter(std::string_view text) {
  FrontMatter fm;
  fm.body = text;
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos || !IsFence(text.substr(0, nl), false)) return fm;
  size_t pos = nl + 1;
  int line = 1;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    const std::string_view l =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    ++line;
    if (IsFence(l, true)) {
      fm.present = true;
      fm.yaml = text.substr(nl + 1, pos - nl - 1);
      fm.body = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
      fm.body_line = line;
      return fm;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return fm;
}

Result<nlohmann::json> ParseFrontMatter(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull()) return nlohmann::json::object();
    if (!root.IsMap()) return Status::InvalidArgument("front matter is not a map of key: value");
    return ToJson(root);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("malformed front matter: line " +
                                   std::to_string(e.mark.line + 2) + ": " + e.msg);
  }
}

std::string EmitFrontMatter(const nlohmann::json& object) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(object, out);
  std::string s = out.c_str();
  if (s == "{}") return "";
  if (!s.empty() && s.back() != '\n') s.push_back('\n');
  return s;
}

}  // namespace nodespace::markdown
