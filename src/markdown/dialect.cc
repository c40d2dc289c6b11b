#include "markdown/dialect.h"

#include <system_error>

#include "model/ids.h"

namespace nodespace::markdown {
namespace fs = std::filesystem;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

MarkdownFlavor DetectFlavor(const fs::path& folder) {
  if (IsDir(folder / "logseq") || (IsDir(folder / "journals") && IsDir(folder / "pages"))) {
    return MarkdownFlavor::kLogseq;
  }
  if (IsDir(folder / ".obsidian")) return MarkdownFlavor::kObsidian;
  return MarkdownFlavor::kMarkdown;
}

std::string DailyNoteDate(std::string_view stem, MarkdownFlavor flavor) {
  if (stem.size() != 10) return "";
  std::string date(stem);
  if (flavor == MarkdownFlavor::kLogseq) {
    if (date[4] != '_' || date[7] != '_') return "";
    date[4] = date[7] = '-';
  }
  return ids::IsDateId(date) ? date : "";
}

std::string LogseqPageName(std::string_view stem) {
  std::string out;
  for (size_t i = 0; i < stem.size(); ++i) {
    if (stem.substr(i, 3) == "___") {
      out += '/';
      i += 2;
    } else if (stem[i] == '%' && i + 2 < stem.size() && HexValue(stem[i + 1]) >= 0 &&
               HexValue(stem[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(stem[i + 1]) * 16 + HexValue(stem[i + 2]));
      i += 2;
    } else {
      out += stem[i];
    }
  }
  return out;
}

std::string LogseqFileName(std::string_view page_name) {
  std::string out;
  for (char c : page_name) {
    if (c == '/') {
      out += "___";
    } else if (c == '\\' || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' || c == '>' ||
               c == '|' || c == '%' || c == '#') {
      static const char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
      out += kHex[static_cast<unsigned char>(c) & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

bool ParseLogseqProperty(std::string_view line, std::string* key, std::string* value) {
  line = Trim(line);
  const size_t sep = line.find(":: ");
  size_t key_end = sep;
  if (sep == std::string_view::npos) {
    if (line.size() < 3 || line.substr(line.size() - 2) != "::") return false;
    key_end = line.size() - 2;
  }
  if (key_end == 0) return false;
  for (size_t i = 0; i < key_end; ++i) {
    const char c = line[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '?' || c == '!' || c == '.' || c == '*';
    if (!ok) return false;
  }
  key->assign(line.substr(0, key_end));
  value->assign(sep == std::string_view::npos ? std::string_view() : Trim(line.substr(sep + 3)));
  return true;
}

nlohmann::json LogseqValue(const std::string& key, const std::string& value) {
  if (key != "tags" && key != "alias") return value;
  nlohmann::json arr = nlohmann::json::array();
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string_view item = Trim(std::string_view(value).substr(start, comma - start));
    if (item.size() >= 4 && item.substr(0, 2) == "[[" && item.substr(item.size() - 2) == "]]") {
      item = item.substr(2, item.size() - 4);
    }
    if (!item.empty() && item.front() == '#') item.remove_prefix(1);
    if (!item.empty()) arr.push_back(std::string(item));
    start = comma + 1;
  }
  return arr;
}

std::string LogseqValueText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string out;
    for (const auto& v : value) {
      if (!out.empty()) out += ", ";
      out += v.is_string() ? v.get<std::string>() : v.dump();
    }
    return out;
  }
  return value.dump();
}

std::string SplitLogseqProperties(std::string_view content, nlohmann::json* properties) {
  std::string out;
  size_t pos = 0;
  bool in_fence = false;
  bool first = true;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    std::string_view line = content.substr(pos, nl - pos);
    const std::string_view t = Trim(line);
    if (t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~") in_fence = !in_fence;
    std::string key, value;
    if (!in_fence && ParseLogseqProperty(line, &key, &value)) {
      (*properties)[key] = LogseqValue(key, value);
    } else {
      if (!first) out += '\n';
      out += line;
      first = false;
    }
    pos = nl + 1;
  }
  return out;
}

std::string_view SplitTaskMarker(std::string_view content, std::string* marker,
                                 std::string* status) {
  static const struct {
    const char* marker;
    const char* status;
  } kMarkers[] = {{"TODO", "open"},          {"LATER", "open"},         {"WAITING", "open"},
                  {"DOING", "in_progress"},  {"NOW", "in_progress"},    {"DONE", "done"},
                  {"CANCELED", "cancelled"}, {"CANCELLED", "cancelled"}};
  for (const auto& m : kMarkers) {
    const std::string_view word = m.marker;
    if (content.substr(0, word.size()) != word) continue;
    if (content.size() > word.size() && content[word.size()] != ' ') continue;
    *marker = m.marker;
    *status = m.status;
    content.remove_prefix(std::min(content.size(), word.size() + 1));
    return content;
  }
  return content;
}

const char* TaskMarkerFor(const std::string& status) {
  if (status == "in_progress") return "DOING";
  if (status == "done") return "DONE";
  if (status == "cancelled") return "CANCELED";
  return "TODO";
}

}  // namespace nodespace::markdown
