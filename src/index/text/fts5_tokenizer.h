// FTS5's own tokenizer, called directly: the tokens TextIndex stores must be
// exactly the ones nodes_fts stores, or its scores would drift from FTS5's.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <string_view>

#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::text {

// The tokenizer nodes_fts is declared with (src/storage/schema.cc):
// porter stemming over unicode61 with diacritics removed.
inline constexpr const char* kFtsTokenizerName = "porter";
inline constexpr const char* kFtsTokenizerArgs[] = {"unicode61", "remove_diacritics", "2"};
// FTS5 cuts longer tokens to this many bytes before indexing or querying.
inline constexpr size_t kFtsMaxTokenBytes = 32768;

class FtsTokenizer {
 public:
  // A tokenizer from the FTS5 module registered on `conn`; it must not
  // outlive the connection.
  static Result<FtsTokenizer> Open(storage::Connection& conn);

  FtsTokenizer(FtsTokenizer&& other) noexcept;
  FtsTokenizer& operator=(FtsTokenizer&&) = delete;
  FtsTokenizer(const FtsTokenizer&) = delete;
  ~FtsTokenizer();

  // Calls visit(token) for each token of `text`, as FTS5 would index it
  // (`query` false) or read it in a quoted query string (`query` true).
  // Colocated tokens (synonyms) are passed with colocated = true.
  template <typename Visit>
  Status Tokenize(std::string_view text, bool query, Visit&& visit) {
    auto callback = [](void* ctx, int flags, const char* token, int bytes, int, int) -> int {
      const size_t n = std::min(static_cast<size_t>(bytes), kFtsMaxTokenBytes);
      (*static_cast<Visit*>(ctx))(std::string_view(token, n), (flags & FTS5_TOKEN_COLOCATED) != 0);
      return SQLITE_OK;
    };
    return Run(text, query, &visit, callback);
  }

 private:
  using Callback = int (*)(void*, int, const char*, int, int, int);
  FtsTokenizer(fts5_tokenizer methods, Fts5Tokenizer* instance)
      : methods_(methods), instance_(instance) {}
  Status Run(std::string_view text, bool query, void* ctx, Callback callback);

  fts5_tokenizer methods_{};
  Fts5Tokenizer* instance_ = nullptr;
};

}  // namespace nodespace::text
