#include "markdown/dialect.h"

#include <algorithm>
#include <cctype>
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

std::string LinkedDate(std::string_view name) {
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.size() == 10) {
    std::string iso(name);
    if (iso[4] == '_' && iso[7] == '_') iso[4] = iso[7] = '-';
    if (ids::IsDateId(iso)) return iso;
  }
  static const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
  // Month name (or its first three letters), day with an optional ordinal
  // suffix, a comma, the year.
  size_t at = 0;
  while (at < name.size() && std::isalpha(static_cast<unsigned char>(name[at]))) ++at;
  if (at < 3) return "";
  std::string month(name.substr(0, at));
  for (char& c : month) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int m = 0;
  for (int i = 0; i < 12; ++i) {
    if (month.compare(0, 3, kMonths[i]) == 0) m = i + 1;
  }
  if (m == 0) return "";
  std::string_view rest = name.substr(at);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  int day = 0;
  size_t digits = 0;
  while (digits < rest.size() && digits < 2 &&
         std::isdigit(static_cast<unsigned char>(rest[digits]))) {
    day = day * 10 + (rest[digits] - '0');
    ++digits;
  }
  if (digits == 0) return "";
  rest.remove_prefix(digits);
  for (std::string_view suffix : {"st", "nd", "rd", "th"}) {
    if (rest.substr(0, 2) == suffix) {
      rest.remove_prefix(2);
      break;
    }
  }
  if (rest.empty() || rest.front() != ',') return "";
  rest.remove_prefix(1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.size() != 4 || !std::all_of(rest.begin(), rest.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return "";
  }
  if (day < 1 || day > 31) return "";
  std::string iso(rest);
  iso += m < 10 ? "-0" : "-";
  iso += std::to_string(m);
  iso += day < 10 ? "-0" : "-";
  iso += std::to_string(day);
  return ids::IsDateId(iso) ? iso : "";
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
