// The wire format between RemoteVectorStore and `nodespace vector-service`
// (docs/formats/vector-service.md): a binary search request, a JSON answer.
// Both ends encode and decode here so that they cannot drift apart.
//
// Thread safety: free functions over values; SearchRequest is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/vector_store.h"
#include "nodespace/status.h"

namespace nodespace::service {

// Limits of a request; the service answers 400 beyond them. The body limit
// leaves room for a filter of tens of millions of rowids.
inline constexpr size_t kMaxHeaderBytes = size_t{64} << 10;
inline constexpr size_t kMaxBodyBytes = size_t{512} << 20;
inline constexpr int64_t kMaxDim = 65536;
// The engine widens k up to the index size when a filter rejects most
// neighbours, so the bound is about memory, not about a user's k.
inline constexpr int64_t kMaxK = int64_t{1} << 24;

// A decoded POST /search body. Owns what VectorQuery only points at.
struct SearchRequest {
  std::vector<float> vector;
  std::optional<std::vector<int64_t>> allowed;  // nullopt: no filter
  size_t k = 10;
  size_t ef = 0;
  bool exact = false;
  bool codes_only = false;
  int64_t min_seq = 0;
  std::optional<int64_t> created_min;
  std::optional<int64_t> created_max;

  // A query that views this request: valid while the request lives and is
  // not changed.
  VectorQuery Query() const;
};

// What the service answers: the store's answer and the change its snapshot
// had reached.
struct SearchReply {
  VectorAnswer answer;
  int64_t applied_seq = 0;
};

// The request body for `query` made from a snapshot at change `min_seq`.
std::string EncodeSearchRequest(const VectorQuery& query, int64_t min_seq);
// InvalidArgument naming the first problem of a malformed body.
Result<SearchRequest> DecodeSearchRequest(std::string_view body);

std::string EncodeSearchReply(const SearchReply& reply);
// InvalidArgument when `json` is not an answer this version writes.
Result<SearchReply> DecodeSearchReply(std::string_view json);

// `{"error": message}`: the body of every error answer.
std::string EncodeError(std::string_view message);
// The message of an error body, or the body itself when it is not one.
std::string DecodeError(std::string_view body);

}  // namespace nodespace::service
