#include "index/text/fts5_tokenizer.h"

#include <cstdint>
#include <iterator>
#include <string>

namespace nodespace::text {

Result<FtsTokenizer> FtsTokenizer::Open(storage::Connection& conn) {
  // SQLite hands out the FTS5 API through a pointer-passing query
  // (https://sqlite.org/fts5.html#extending_fts5).
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(conn.raw(), "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (api == nullptr) return Status::Internal("this SQLite has no FTS5 module");
  void* user_data = nullptr;
  fts5_tokenizer methods{};
  if (api->xFindTokenizer(api, kFtsTokenizerName, &user_data, &methods) != SQLITE_OK) {
    return Status::Internal(std::string("FTS5 has no tokenizer '") + kFtsTokenizerName + "'");
  }
  const char* args[std::size(kFtsTokenizerArgs)];
  std::copy(std::begin(kFtsTokenizerArgs), std::end(kFtsTokenizerArgs), args);
  Fts5Tokenizer* instance = nullptr;
  if (methods.xCreate(user_data, args, static_cast<int>(std::size(args)), &instance) != SQLITE_OK) {
    return Status::Internal("cannot create the FTS5 tokenizer");
  }
  return FtsTokenizer(methods, instance);
}

FtsTokenizer::FtsTokenizer(FtsTokenizer&& other) noexcept
    : methods_(other.methods_), instance_(other.instance_) {
  other.instance_ = nullptr;
}

FtsTokenizer::~FtsTokenizer() {
  if (instance_ != nullptr) methods_.xDelete(instance_);
}

Status FtsTokenizer::Run(std::string_view text, bool query, void* ctx, Callback callback) {
  if (text.empty()) return Status::OK();
  if (text.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::InvalidArgument("text of " + std::to_string(text.size()) +
                                   " bytes is too long to tokenize");
  }
  const int rc =
      methods_.xTokenize(instance_, ctx, query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT,
                         text.data(), static_cast<int>(text.size()), callback);
  if (rc != SQLITE_OK)
    return Status::Internal("FTS5 tokenizer failed: " + std::string(sqlite3_errstr(rc)));
  return Status::OK();
}

}  // namespace nodespace::text
