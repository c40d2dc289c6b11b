#include "index/text/text_query.h"

#include <memory>

namespace nodespace::text {
namespace {

// ---- lexer -------------------------------------------------------------------

enum class TokenKind { kWord, kPhrase, kAnd, kOr, kNot, kOpen, kClose };

struct Token {
  TokenKind kind;
  std::string text;     // the word or phrase, without quotes
  bool prefix = false;  // word*
  bool minus = false;   // -word
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// A word ends at white space, a quote or a parenthesis.
bool EndsWord(char c) {
  return IsSpace(c) || c == '"' || c == '(' || c == ')';
}

std::vector<Token> Lex(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (c == '(') {
      out.push_back({TokenKind::kOpen, ""});
      ++i;
      continue;
    }
    if (c == ')') {
      out.push_back({TokenKind::kClose, ""});
      ++i;
      continue;
    }
    bool minus = false;
    if (c == '-' && i + 1 < q.size() && !IsSpace(q[i + 1])) {
      minus = true;
      ++i;
      c = q[i];
    }
    if (c == '"') {
      // An unclosed quote runs to the end of the query.
      size_t end = q.find('"', i + 1);
      std::string_view body = q.substr(i + 1, end == std::string_view::npos ? end : end - i - 1);
      Token t{TokenKind::kPhrase, std::string(body)};
      t.minus = minus;
      i = end == std::string_view::npos ? q.size() : end + 1;
      if (i < q.size() && q[i] == '*') {
        t.prefix = true;
        ++i;
      }
      out.push_back(std::move(t));
      continue;
    }
    size_t start = i;
    while (i < q.size() && !EndsWord(q[i])) ++i;
    std::string word(q.substr(start, i - start));
    if (!minus && word == "AND") {
      out.push_back({TokenKind::kAnd, ""});
    } else if (!minus && word == "OR") {
      out.push_back({TokenKind::kOr, ""});
    } else if (!minus && word == "NOT") {
      out.push_back({TokenKind::kNot, ""});
    } else {
      Token t{TokenKind::kWord, {}};
      t.minus = minus;
      while (!word.empty() && word.back() == '*') {
        t.prefix = true;
        word.pop_back();
      }
      t.text = std::move(word);
      out.push_back(std::move(t));
    }
  }
  return out;
}

// True when `text` holds at least one letter or digit (any non-ASCII byte
// counts: the tokenizer decides). "***" or "--" alone would match nothing and
// FTS5 rejects empty phrases.
bool HasSearchableChar(const std::string& text) {
  for (unsigned char c : text) {
    if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return true;
    }
  }
  return false;
}

std::string Quote(const std::string& text, bool prefix) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  if (prefix) out += '*';
  return out;
}

// ---- parser ------------------------------------------------------------------
//
//   or_expr  := and_expr (OR and_expr)*
//   and_expr := unary ([AND] unary)*
//   unary    := NOT unary | -term | term | '(' or_expr ')'
//
// Emitted FTS5 keeps negations out of positions FTS5 rejects: within one AND
// group, positives are joined with AND and each negation is appended as
// "NOT x"; a group of negations alone is an error.

struct Expr {
  enum Kind { kTerm, kAnd, kOr } kind = kTerm;
  std::string fts;                                               // for kTerm
  std::string word;                                              // for kTerm: as typed
  bool prefix = false;                                           // for kTerm
  std::vector<std::pair<std::unique_ptr<Expr>, bool>> children;  // (child, negated)
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::unique_ptr<Expr>> Parse() {
    NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> e, ParseOr());
    // Stray closing parentheses: skip them and keep going as an implicit AND.
    while (pos_ < tokens_.size()) {
      ++pos_;
      NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> rest, ParseOr());
      if (rest == nullptr) continue;
      if (e == nullptr) {
        e = std::move(rest);
        continue;
      }
      auto both = std::make_unique<Expr>();
      both->kind = Expr::kAnd;
      both->children.emplace_back(std::move(e), false);
      both->children.emplace_back(std::move(rest), false);
      e = std::move(both);
    }
    return e;
  }

  size_t term_count() const { return term_count_; }
  bool plain() const { return plain_; }
  std::vector<std::string>& positive_terms() { return positive_terms_; }
  std::vector<std::string>& positive_words() { return positive_words_; }
  std::vector<bool>& positive_prefix() { return positive_prefix_; }

 private:
  bool At(TokenKind k) const { return pos_ < tokens_.size() && tokens_[pos_].kind == k; }

  Result<std::unique_ptr<Expr>> ParseOr() {
    auto out = std::make_unique<Expr>();
    out->kind = Expr::kOr;
    for (;;) {
      while (At(TokenKind::kOr)) {  // leading or doubled OR: dropped
        plain_ = false;
        ++pos_;
      }
      NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> e, ParseAnd());
      if (e != nullptr) out->children.emplace_back(std::move(e), false);
      if (!At(TokenKind::kOr)) break;
    }
    if (out->children.empty()) return std::unique_ptr<Expr>();
    if (out->children.size() == 1) return std::move(out->children[0].first);
    return out;
  }

  // Returns null when the group holds nothing searchable.
  Result<std::unique_ptr<Expr>> ParseAnd() {
    auto out = std::make_unique<Expr>();
    out->kind = Expr::kAnd;
    bool any_positive = false;
    bool any_negative = false;
    for (;;) {
      if (At(TokenKind::kAnd)) {
        plain_ = false;
        ++pos_;
        continue;
      }
      if (pos_ >= tokens_.size() || At(TokenKind::kOr) || At(TokenKind::kClose)) break;
      bool negated = false;
      while (At(TokenKind::kNot)) {
        plain_ = false;
        negated = !negated;
        ++pos_;
      }
      if (pos_ >= tokens_.size() || At(TokenKind::kOr) || At(TokenKind::kClose)) break;
      NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> e, ParseUnary(&negated));
      if (e == nullptr) continue;
      (negated ? any_negative : any_positive) = true;
      out->children.emplace_back(std::move(e), negated);
    }
    if (!any_positive) {
      if (any_negative) {
        return Status::InvalidArgument(
            "query excludes words but asks for none; add a word to search for");
      }
      return std::unique_ptr<Expr>();
    }
    if (out->children.size() == 1) return std::move(out->children[0].first);
    return out;
  }

  Result<std::unique_ptr<Expr>> ParseUnary(bool* negated) {
    const Token& t = tokens_[pos_];
    if (t.kind == TokenKind::kOpen) {
      plain_ = false;
      ++pos_;
      NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> inner, ParseOr());
      if (At(TokenKind::kClose)) ++pos_;  // a missing ')' closes at the end
      return inner;
    }
    ++pos_;
    if (t.minus) {
      plain_ = false;
      *negated = !*negated;
    }
    if (!HasSearchableChar(t.text)) return std::unique_ptr<Expr>();
    if (++term_count_ > kMaxQueryTerms) {
      return Status::InvalidArgument("query has more than " + std::to_string(kMaxQueryTerms) +
                                     " terms; shorten it");
    }
    auto e = std::make_unique<Expr>();
    e->fts = Quote(t.text, t.prefix);
    e->word = t.text;
    e->prefix = t.prefix;
    if (!*negated) {
      positive_terms_.push_back(e->fts);
      positive_words_.push_back(t.text);
      positive_prefix_.push_back(t.prefix);
    }
    return e;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  size_t term_count_ = 0;
  bool plain_ = true;
  std::vector<std::string> positive_terms_;
  std::vector<std::string> positive_words_;
  std::vector<bool> positive_prefix_;
};

// How a flat expression's words combine; nothing when it is not flat.
std::optional<TermMatch> FlatMatch(const Expr& e) {
  if (e.kind == Expr::kTerm) {
    if (e.prefix) return std::nullopt;
    return TermMatch::kAllTerms;
  }
  for (const auto& [child, negated] : e.children) {
    if (negated || child->kind != Expr::kTerm || child->prefix) return std::nullopt;
  }
  return e.kind == Expr::kOr ? TermMatch::kAnyTerm : TermMatch::kAllTerms;
}

std::string Emit(const Expr& e) {
  if (e.kind == Expr::kTerm) return e.fts;
  std::string out = "(";
  if (e.kind == Expr::kOr) {
    for (size_t i = 0; i < e.children.size(); ++i) {
      if (i > 0) out += " OR ";
      out += Emit(*e.children[i].first);
    }
    return out + ")";
  }
  bool first = true;
  for (const auto& [child, negated] : e.children) {
    if (negated) continue;
    if (!first) out += " AND ";
    out += Emit(*child);
    first = false;
  }
  for (const auto& [child, negated] : e.children) {
    if (negated) out += " NOT " + Emit(*child);
  }
  return out + ")";
}

}  // namespace

Result<ParsedQuery> ParseTextQuery(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("query is " + std::to_string(query.size()) + " bytes; at most " +
                                   std::to_string(kMaxQueryBytes) + " are allowed");
  }
  Parser parser(Lex(query));
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Expr> root, parser.Parse());
  if (root == nullptr) return Status::InvalidArgument("query has no words to search for");
  ParsedQuery out;
  out.fts = Emit(*root);
  out.positive_terms = std::move(parser.positive_terms());
  out.plain = parser.plain();
  out.positive_words = std::move(parser.positive_words());
  out.positive_prefix = std::move(parser.positive_prefix());
  out.flat = FlatMatch(*root);
  return out;
}

}  // namespace nodespace::text
