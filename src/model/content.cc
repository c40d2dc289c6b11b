#include "model/content.h"

#include <simdjson.h>

#include <algorithm>
#include <unordered_set>

namespace nodespace::content {

bool IsValidUtf8(std::string_view text, size_t* error_offset) {
  // simdjson's validator (SIMD, chosen for the CPU at run time) answers for
  // valid text, which is nearly all of it; the loop below only finds where
  // invalid text goes wrong. Both reject overlong forms, surrogates and code
  // points past U+10FFFF.
  if (simdjson::validate_utf8(text.data(), text.size())) return true;
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
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

// Length of the run of `c` starting at `i`.
size_t RunLength(std::string_view s, size_t i, char c) {
  size_t j = i;
  while (j < s.size() && s[j] == c) ++j;
  return j - i;
}

// The fence character at `i` when a line starting there opens or closes a
// fenced code block (three or more ` or ~), else 0.
char FenceAt(std::string_view s, size_t i) {
  if (i >= s.size() || (s[i] != '`' && s[i] != '~')) return 0;
  return RunLength(s, i, s[i]) >= 3 ? s[i] : 0;
}

// Where the paragraph holding `i` ends: the newline before the next blank or
// fence line, or the end of the text. An inline code span never crosses it.
size_t ParagraphEnd(std::string_view s, size_t i) {
  for (size_t nl = s.find('\n', i); nl != std::string_view::npos; nl = s.find('\n', nl + 1)) {
    size_t j = nl + 1;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r')) ++j;
    if (j == s.size() || s[j] == '\n' || FenceAt(s, j) != 0) return nl;
  }
  return s.size();
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
  // Most content mentions nothing: three vectorised searches for what every
  // mention starts with answer that without the scan below.
  if (md.find('@') == std::string_view::npos && md.find("[[") == std::string_view::npos &&
      md.find("nodespace://") == std::string_view::npos) {
    return out;
  }
  std::unordered_set<std::string> seen;
  auto add = [&](std::string_view id) {
    id = Trim(id);
    if (id.empty() || id.size() > 256) return;
    if (std::any_of(id.begin(), id.end(), [](char c) { return c == '\n' || c == ' '; })) return;
    std::string s(id);
    if (seen.insert(s).second) out.push_back(std::move(s));
  };
  const size_t n = md.size();
  // An open fenced block: its character and length. Only a fence of the same
  // character and at least that length closes it (CommonMark).
  char fence_char = 0;
  size_t fence_len = 0;
  bool at_line_start = true;
  for (size_t i = 0; i < n;) {
    if (at_line_start) {
      size_t j = i;
      while (j < n && (md[j] == ' ' || md[j] == '\t')) ++j;
      const char f = FenceAt(md, j);
      const size_t len = f != 0 ? RunLength(md, j, f) : 0;
      if (f != 0 && (fence_char == 0 || (f == fence_char && len >= fence_len))) {
        fence_char = fence_char == 0 ? f : 0;
        fence_len = len;
        const size_t nl = md.find('\n', j);
        i = nl == std::string_view::npos ? n : nl + 1;
        continue;
      }
    }
    const bool in_fence = fence_char != 0;
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
    if (c == '`') {
      // An inline code span: a run of backticks closed by the next run of the
      // same length in the same paragraph. An unmatched run is literal text,
      // so a stray backtick does not hide the rest of the content.
      const size_t run = RunLength(md, i, '`');
      const size_t end = ParagraphEnd(md, i);
      size_t close = md.find('`', i + run);
      while (close < end && RunLength(md, close, '`') != run) {
        close = md.find('`', close + RunLength(md, close, '`'));
      }
      i = close < end ? close + run : i + run;
      continue;
    }
    if (c == '[' && i + 1 < n && md[i + 1] == '[') {
      // A wiki link ends on its own line; a "]]" further down (in a code block,
      // say) must not swallow the lines in between.
      const size_t close = md.find("]]", i + 2);
      if (close != std::string_view::npos && close < md.find('\n', i + 2)) {
        std::string_view inner = md.substr(i + 2, close - i - 2);
        add(inner.substr(0, inner.find('|')));
        i = close + 2;
        continue;
      }
    }
    // After an id character or '+' the '@' is inside an e-mail address
    // (name@host, name+tag@host), not a mention.
    if (c == '@' && (i == 0 || (!IsIdChar(md[i - 1]) && md[i - 1] != '+'))) {
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
