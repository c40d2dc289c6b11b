#include "markdown/refs.h"

#include <md4c.h>

namespace nodespace::markdown {
namespace {

bool IsTagChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '/' || c >= 0x80;
}

struct Finder {
  std::string_view text;
  std::vector<Ref> refs;
  int in_wikilink = 0;

  size_t Offset(const char* p) const {
    if (p < text.data() || p >= text.data() + text.size()) return std::string_view::npos;
    return static_cast<size_t>(p - text.data());
  }

  void WikiLink(const MD_SPAN_WIKILINK_DETAIL* d) {
    const size_t t = Offset(d->target.text);
    if (t == std::string_view::npos || t < 2 || text.substr(t - 2, 2) != "[[") return;
    const size_t close = text.find("]]", t);
    if (close == std::string_view::npos) return;
    Ref r;
    r.begin = t - 2;
    r.end = close + 2;
    std::string_view inner = text.substr(t, close - t);
    const size_t bar = inner.find('|');
    r.target.assign(inner.substr(0, bar));
    if (bar != std::string_view::npos) r.label.assign(inner.substr(bar + 1));
    r.embed = r.begin > 0 && text[r.begin - 1] == '!';
    refs.push_back(std::move(r));
  }

  void Normal(size_t off, size_t n) {
    if (in_wikilink > 0) return;
    for (size_t i = off; i < off + n; ++i) {
      if (!refs.empty() && i < refs.back().end) continue;  // inside a ref already found
      const char c = text[i];
      if (c == '!' && text.substr(i, 3) == "![[") {
        // md4c reads "![" as an image opener, so embeds never reach it as
        // wiki links: take "![[target|label]]" (on one line) from the text.
        const size_t close = text.find("]]", i + 3);
        if (close == std::string_view::npos || close > text.find('\n', i)) continue;
        std::string_view inner = text.substr(i + 3, close - i - 3);
        if (inner.empty() || inner.find('[') != std::string_view::npos) continue;
        Ref r;
        r.begin = i + 1;
        r.end = close + 2;
        const size_t bar = inner.find('|');
        r.target.assign(inner.substr(0, bar));
        if (bar != std::string_view::npos) r.label.assign(inner.substr(bar + 1));
        r.embed = true;
        refs.push_back(std::move(r));
        i = close + 1;
      } else if (c == '(' && text.substr(i, 2) == "((") {
        const size_t close = text.find("))", i + 2);
        if (close == std::string_view::npos || close - i - 2 > 64 || close - i - 2 == 0) continue;
        std::string_view id = text.substr(i + 2, close - i - 2);
        if (id.find_first_of(" \t\n()") != std::string_view::npos) continue;
        Ref r;
        r.kind = Ref::Kind::kBlockRef;
        r.begin = i;
        r.end = close + 2;
        r.target.assign(id);
        refs.push_back(std::move(r));
        i = close + 1;
      } else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' ||
                              text[i - 1] == '\n' || text[i - 1] == '(')) {
        size_t j = i + 1;
        while (j < text.size() && IsTagChar(static_cast<unsigned char>(text[j]))) ++j;
        while (j > i + 1 && text[j - 1] == '/') --j;
        std::string_view tag = text.substr(i + 1, j - i - 1);
        if (tag.empty() || tag.find_first_not_of("0123456789") == std::string_view::npos) continue;
        Ref r;
        r.kind = Ref::Kind::kTag;
        r.begin = i;
        r.end = j;
        r.target.assign(tag);
        refs.push_back(std::move(r));
        i = j - 1;
      }
    }
  }
};

}  // namespace

std::vector<Ref> FindRefs(std::string_view markdown) {
  if (markdown.find_first_of("[(#") == std::string_view::npos) return {};
  Finder f{markdown, {}, 0};
  MD_PARSER p{};
  p.flags = MD_FLAG_TABLES | MD_FLAG_TASKLISTS | MD_FLAG_STRIKETHROUGH | MD_FLAG_WIKILINKS;
  p.enter_block = [](MD_BLOCKTYPE, void*, void*) { return 0; };
  p.leave_block = [](MD_BLOCKTYPE, void*, void*) { return 0; };
  p.enter_span = [](MD_SPANTYPE t, void* d, void* u) {
    auto* f = static_cast<Finder*>(u);
    if (t == MD_SPAN_WIKILINK) {
      f->WikiLink(static_cast<MD_SPAN_WIKILINK_DETAIL*>(d));
      ++f->in_wikilink;
    }
    return 0;
  };
  p.leave_span = [](MD_SPANTYPE t, void*, void* u) {
    if (t == MD_SPAN_WIKILINK) --static_cast<Finder*>(u)->in_wikilink;
    return 0;
  };
  p.text = [](MD_TEXTTYPE t, const MD_CHAR* s, MD_SIZE n, void* u) {
    auto* f = static_cast<Finder*>(u);
    const size_t off = f->Offset(s);
    if (t == MD_TEXT_NORMAL && off != std::string_view::npos) f->Normal(off, n);
    return 0;
  };
  md_parse(markdown.data(), static_cast<MD_SIZE>(markdown.size()), &p, &f);
  return std::move(f.refs);
}

std::string ReplaceRefs(std::string_view markdown, const std::vector<Ref>& refs,
                        const std::vector<std::string>& replacements) {
  std::string out;
  out.reserve(markdown.size() + 64);
  size_t pos = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    if (refs[i].begin < pos) continue;  // overlapping: keep the first
    out.append(markdown.substr(pos, refs[i].begin - pos));
    out += replacements[i];
    pos = refs[i].end;
  }
  out.append(markdown.substr(pos));
  return out;
}

}  // namespace nodespace::markdown
