#include "markdown/blocks.h"

#include <md4c.h>

#include <algorithm>

namespace nodespace::markdown {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// One open md4c block and the source bytes its text was seen in.
struct Frame {
  MD_BLOCKTYPE type;
  size_t min = kNone, max = 0;          // all text inside
  size_t own_min = kNone, own_max = 0;  // list items: outside nested lists
  bool ordered = false;                 // UL/OL
  int start = 1;                        // OL: the first item's number
  int items = 0;                        // OL/UL: items entered so far
  char fence_char = 0;                  // CODE
  size_t lang_offset = kNone;           // CODE
  int level = 0;                        // H
  Block block;                          // LI: the item being built
};

class BlockParser {
 public:
  BlockParser(std::string_view text, const ParseOptions& options) : text_(text) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
    flags_ = MD_FLAG_TABLES | MD_FLAG_TASKLISTS | MD_FLAG_STRIKETHROUGH | MD_FLAG_WIKILINKS;
    if (!options.indented_code) flags_ |= MD_FLAG_NOINDENTEDCODEBLOCKS;
  }

  std::vector<Block> Run() {
    MD_PARSER p{};
    p.abi_version = 0;
    p.flags = flags_;
    p.enter_block = [](MD_BLOCKTYPE t, void* d, void* u) {
      return static_cast<BlockParser*>(u)->Enter(t, d);
    };
    p.leave_block = [](MD_BLOCKTYPE t, void* d, void* u) {
      return static_cast<BlockParser*>(u)->Leave(t, d);
    };
    p.enter_span = [](MD_SPANTYPE, void*, void*) { return 0; };
    p.leave_span = [](MD_SPANTYPE, void*, void*) { return 0; };
    p.text = [](MD_TEXTTYPE, const MD_CHAR* t, MD_SIZE n, void* u) {
      static_cast<BlockParser*>(u)->Touch(t, n);
      return 0;
    };
    md_parse(text_.data(), static_cast<MD_SIZE>(text_.size()), &p, this);
    return std::move(out_);
  }

 private:
  int Enter(MD_BLOCKTYPE type, void* detail) {
    Frame f;
    f.type = type;
    if (type == MD_BLOCK_OL) {
      f.ordered = true;
      f.start = static_cast<int>(static_cast<MD_BLOCK_OL_DETAIL*>(detail)->start);
    }
    if (type == MD_BLOCK_H)
      f.level = static_cast<int>(static_cast<MD_BLOCK_H_DETAIL*>(detail)->level);
    if (type == MD_BLOCK_CODE) {
      auto* d = static_cast<MD_BLOCK_CODE_DETAIL*>(detail);
      f.fence_char = d->fence_char;
      if (d->lang.size > 0) {
        f.lang_offset = Offset(d->lang.text);
        f.block.lang.assign(d->lang.text, d->lang.size);
      }
    }
    if (type == MD_BLOCK_LI) {
      auto* d = static_cast<MD_BLOCK_LI_DETAIL*>(detail);
      f.block.kind = BlockKind::kListItem;
      f.block.is_task = d->is_task != 0;
      f.block.task_done = d->is_task && (d->task_mark == 'x' || d->task_mark == 'X');
      f.block.ordered = !stack_.empty() && stack_.back().ordered;
      if (f.block.ordered && stack_.back().items == 0 && stack_.back().start != 1) {
        f.block.list_start = stack_.back().start;
      }
      if (!stack_.empty()) ++stack_.back().items;
      stack_.push_back(std::move(f));
      if (d->is_task && d->task_mark_offset < text_.size()) {
        TouchRange(d->task_mark_offset, d->task_mark_offset + 1, stack_.size() - 1);
      }
      return 0;
    }
    stack_.push_back(std::move(f));
    return 0;
  }

  int Leave(MD_BLOCKTYPE type, void*) {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (type == MD_BLOCK_CODE) ExtendCode(&f);
    if (type == MD_BLOCK_LI) {
      FinishItem(&f);
      return 0;
    }
    // Only the document's own children become blocks; anything nested in a
    // quote or a list item is part of that block's content.
    if (stack_.size() != 1 || stack_.back().type != MD_BLOCK_DOC) return 0;
    if (type == MD_BLOCK_HR) return AddThematicBreak();
    if (f.min == kNone) return 0;  // no text: an empty block
    Block b;
    const int first = LineOf(f.min), last = LineOf(f.max - 1);
    b.line = first;
    switch (type) {
      case MD_BLOCK_H: {
        b.kind = BlockKind::kHeading;
        b.level = f.level;
        std::string_view l = Trim(Line(first));
        if (!l.empty() && l.front() == '#') {
          b.content.assign(l);
        } else {  // setext: the underline carries no text
          b.content.assign(static_cast<size_t>(f.level), '#');
          for (int i = first; i <= last; ++i) (b.content += ' ') += Trim(Line(i));
          last_line_ = last + 1;  // the underline, which may look like a break
        }
        break;
      }
      case MD_BLOCK_CODE:
        b.kind = BlockKind::kCode;
        b.lang = f.block.lang;
        b.content = Lines(first, last);
        break;
      case MD_BLOCK_QUOTE:
        b.kind = BlockKind::kQuote;
        b.content = Lines(first, last);
        break;
      case MD_BLOCK_TABLE:
        b.kind = BlockKind::kTable;
        b.content = Lines(first, last);
        break;
      case MD_BLOCK_HTML:
        b.kind = BlockKind::kHtml;
        b.content = Lines(first, last);
        break;
      case MD_BLOCK_P:
        b.content = Lines(first, last);
        break;
      default:
        return 0;
    }
    last_line_ = std::max(last_line_, last);
    out_.push_back(std::move(b));
    return 0;
  }

  // md4c reports a thematic break without its text; it is the first break
  // line after the previous top-level block.
  int AddThematicBreak() {
    for (int i = last_line_ + 1; i < static_cast<int>(line_starts_.size()); ++i) {
      std::string_view l = Trim(Line(i));
      if (l.size() < 3 || (l[0] != '-' && l[0] != '*' && l[0] != '_')) continue;
      if (l.find_first_not_of(std::string(1, l[0]) + " \t") != std::string_view::npos) continue;
      Block b;
      b.kind = BlockKind::kThematicBreak;
      b.line = i;
      b.content.assign(l);
      last_line_ = i;
      out_.push_back(std::move(b));
      return 0;
    }
    return 0;
  }

  // A fenced block's fences carry no text: add their lines to the range.
  void ExtendCode(Frame* f) {
    if (f->fence_char == 0) return;
    int open = -1, close = -1;
    if (f->lang_offset != kNone) open = LineOf(f->lang_offset);
    if (f->min != kNone) {
      if (open < 0) open = LineOf(f->min) - 1;
      close = LineOf(f->max - 1) + 1;
    } else if (open >= 0) {
      close = open + 1;
    }
    if (open < 0) return;
    if (close >= static_cast<int>(line_starts_.size()) ||
        !IsFenceLine(Line(close), f->fence_char)) {
      close = close - 1;  // unclosed: the block runs to the end of its container
    }
    const size_t begin = line_starts_[static_cast<size_t>(open)];
    const size_t end = LineEnd(std::max(open, close));
    f->min = std::min(f->min, begin);
    f->max = std::max(f->max, end);
    TouchRange(begin, end, stack_.size());
  }

  void FinishItem(Frame* f) {
    Block b = std::move(f->block);
    if (f->own_min != kNone) {
      const int first = LineOf(f->own_min), last = LineOf(f->own_max - 1);
      b.line = first;
      b.content = ItemContent(first, last, b.is_task);
    } else if (f->min != kNone) {
      b.line = LineOf(f->min);
    }
    // Lists nested in a quote stay part of the quote.
    for (size_t i = stack_.size(); i-- > 0;) {
      const MD_BLOCKTYPE t = stack_[i].type;
      if (t == MD_BLOCK_LI) {
        stack_[i].block.children.push_back(std::move(b));
        return;
      }
      if (t == MD_BLOCK_DOC) {
        if (f->max > 0) last_line_ = std::max(last_line_, LineOf(f->max - 1));
        out_.push_back(std::move(b));
        return;
      }
      if (t != MD_BLOCK_UL && t != MD_BLOCK_OL) return;
    }
  }

  // The item's lines without the list marker (and task box), continuation
  // lines de-indented to the item's content column.
  std::string ItemContent(int first, int last, bool is_task) {
    std::string_view l = Line(first);
    size_t i = 0;
    int col = 0;
    auto skip_ws = [&](int max_cols) {
      const int start = col;
      while (i < l.size() && (l[i] == ' ' || l[i] == '\t') && col - start < max_cols) {
        col = l[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
        ++i;
      }
    };
    skip_ws(1 << 20);
    size_t j = i;
    while (j < l.size() && j - i < 9 && l[j] >= '0' && l[j] <= '9') ++j;
    bool marker = false;
    if (j > i && j < l.size() && (l[j] == '.' || l[j] == ')')) {
      col += static_cast<int>(j + 1 - i);
      i = j + 1;
      marker = true;
    } else if (i < l.size() && (l[i] == '-' || l[i] == '*' || l[i] == '+')) {
      ++i;
      ++col;
      marker = true;
    }
    std::string out;
    if (marker) {
      skip_ws(4);
      if (is_task && l.size() >= i + 3 && l[i] == '[' && l[i + 2] == ']') {
        i += 3;
        col += 3;
        skip_ws(1);
      }
    }
    out.assign(l.substr(i));
    for (int n = first + 1; n <= last; ++n) {
      out += '\n';
      out += Dedent(Line(n), col);
    }
    return out;
  }

  static std::string_view Dedent(std::string_view l, int cols) {
    int col = 0;
    size_t i = 0;
    while (i < l.size() && col < cols && (l[i] == ' ' || l[i] == '\t')) {
      col = l[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
      ++i;
    }
    return l.substr(i);
  }

  static bool IsFenceLine(std::string_view l, char fence) {
    l = Trim(l);
    size_t n = 0;
    while (n < l.size() && l[n] == fence) ++n;
    return n >= 3 && n == l.size();
  }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
      s.remove_suffix(1);
    }
    return s;
  }

  size_t Offset(const char* p) const {
    if (p < text_.data() || p >= text_.data() + text_.size()) return kNone;
    return static_cast<size_t>(p - text_.data());
  }

  void Touch(const char* p, MD_SIZE n) {
    const size_t off = Offset(p);
    if (off == kNone || n == 0) return;
    TouchRange(off, off + n, stack_.size());
  }

  // Records [begin, end) in the frames below `top` (exclusive). A list
  // item's own range skips text that sits in a list nested inside it.
  void TouchRange(size_t begin, size_t end, size_t top) {
    bool nested_list = false;
    for (size_t i = top; i-- > 0;) {
      Frame& f = stack_[i];
      f.min = std::min(f.min, begin);
      f.max = std::max(f.max, end);
      if (f.type == MD_BLOCK_LI && !nested_list) {
        f.own_min = std::min(f.own_min, begin);
        f.own_max = std::max(f.own_max, end);
      }
      if (f.type == MD_BLOCK_UL || f.type == MD_BLOCK_OL) nested_list = true;
    }
  }

  int LineOf(size_t off) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
    return static_cast<int>(it - line_starts_.begin()) - 1;
  }
  size_t LineEnd(int line) const {
    const size_t next = static_cast<size_t>(line) + 1;
    return next < line_starts_.size() ? line_starts_[next] - 1 : text_.size();
  }
  std::string_view Line(int line) const {
    std::string_view l = text_.substr(line_starts_[static_cast<size_t>(line)],
                                      LineEnd(line) - line_starts_[static_cast<size_t>(line)]);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  }
  std::string Lines(int first, int last) const {
    std::string out;
    for (int i = first; i <= last; ++i) {
      if (i > first) out += '\n';
      out += Line(i);
    }
    return out;
  }

  std::string_view text_;
  unsigned flags_ = 0;
  std::vector<size_t> line_starts_;
  std::vector<Frame> stack_;
  std::vector<Block> out_;
  int last_line_ = -1;  // the last line of the latest top-level block
};

}  // namespace

std::vector<Block> ParseBlocks(std::string_view text, const ParseOptions& options) {
  return BlockParser(text, options).Run();
}

}  // namespace nodespace::markdown
