#include "model/content.h"

#include <algorithm>
#include <unordered_set>

namespace nodespace::content {

bool IsValidUtf8(std::string_view text, size_t* error_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  auto fail = [&](size_t at) {
    if (error_offset) *error_offset = at;
    return false;
  };
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return fail(i);
    }
    if (i + len > n) return fail(i);
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return fail(i);
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail(i);
    i += len;
  }
  return true;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == ':';
}

}  // namespace

std::string DeriveTitle(std::string_view markdown) {
  std::string_view line;
  while (!markdown.empty()) {
    const size_t nl = markdown.find('\n');
    line = Trim(markdown.substr(0, nl));
    markdown = nl == std::string_view::npos ? std::string_view() : markdown.substr(nl + 1);
    if (!line.empty()) break;
  }
  // Leading markers: headings, bullets, task boxes, quotes.
  while (!line.empty() && line.front() == '#') line.remove_prefix(1);
  line = Trim(line);
  if (line.size() >= 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+' || line[0] == '>') &&
      line[1] == ' ') {
    line = Trim(line.substr(2));
  }
  if (line.size() >= 3 && line[0] == '[' && line[2] == ']' &&
      (line[1] == ' ' || line[1] == 'x' || line[1] == 'X')) {
    line = Trim(line.substr(3));
  }
  constexpr size_t kMaxTitleBytes = 200;
  if (line.size() > kMaxTitleBytes) {
    size_t cut = kMaxTitleBytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line = line.substr(0, cut);
  }
  return std::string(line);
}

std::vector<std::string> ExtractMentions(std::string_view md) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  auto add = [&](std::string_view id) {
    id = Trim(id);
    if (id.empty() || id.size() > 256) return;
    if (std::any_of(id.begin(), id.end(), [](char c) { return c == '\n' || c == ' '; })) return;
    std::string s(id);
    if (seen.insert(s).second) out.push_back(std::move(s));
  };
  const size_t n = md.size();
  bool in_fence = false;
  bool at_line_start = true;
  for (size_t i = 0; i < n;) {
    if (at_line_start) {
      size_t j = i;
      while (j < n && (md[j] == ' ' || md[j] == '\t')) ++j;
      if (md.substr(j, 3) == "```" || md.substr(j, 3) == "~~~") {
        in_fence = !in_fence;
        const size_t nl = md.find('\n', j);
        i = nl == std::string_view::npos ? n : nl + 1;
        continue;
      }
    }
    at_line_start = false;
    const char c = md[i];
    if (c == '\n') {
      at_line_start = true;
      ++i;
      continue;
    }
    if (in_fence) {
      ++i;
      continue;
    }
    if (c == '`') {  // inline code span
      const size_t close = md.find('`', i + 1);
      i = close == std::string_view::npos ? n : close + 1;
      continue;
    }
    if (c == '[' && i + 1 < n && md[i + 1] == '[') {
      const size_t close = md.find("]]", i + 2);
      if (close != std::string_view::npos) {
        std::string_view inner = md.substr(i + 2, close - i - 2);
        add(inner.substr(0, inner.find('|')));
        i = close + 2;
        continue;
      }
    }
    if (c == '@' && (i == 0 || !IsIdChar(md[i - 1]))) {
      size_t j = i + 1;
      while (j < n && IsIdChar(md[j])) ++j;
      // Trailing punctuation ends a sentence, not an id.
      while (j > i + 1 && (md[j - 1] == '.' || md[j - 1] == ':')) --j;
      if (j > i + 1) add(md.substr(i + 1, j - i - 1));
      i = j;
      continue;
    }
    if (c == 'n' && md.substr(i, 12) == "nodespace://") {
      size_t j = i + 12;
      while (j < n && IsIdChar(md[j])) ++j;
      while (j > i + 12 && (md[j - 1] == '.' || md[j - 1] == ':')) --j;
      add(md.substr(i + 12, j - i - 12));
      i = j;
      continue;
    }
    ++i;
  }
  return out;
}

}  // namespace nodespace::content
