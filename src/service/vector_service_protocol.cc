#include "service/vector_service_protocol.h"

#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace nodespace::service {
namespace {

using nlohmann::json;

// Vectors and rowids travel as the machine holds them in memory. Every
// platform we build for is little-endian, as the format says; a big-endian
// port would swap bytes here.
static_assert(std::endian::native == std::endian::little,
              "the vector service protocol is little-endian");

constexpr size_t kLengthBytes = sizeof(uint32_t);
constexpr int64_t kMaxEf = int64_t{1} << 20;

Status BadRequest(const std::string& what) {
  return Status::InvalidArgument("vector search request: " + what);
}

// An integer header field in [min, max]; `fallback` when absent (or null),
// an error when absent and there is no fallback.
Result<int64_t> IntField(const json& header, const char* key, int64_t min, int64_t max,
                         std::optional<int64_t> fallback) {
  auto it = header.find(key);
  if (it == header.end() || it->is_null()) {
    if (fallback) return *fallback;
    return BadRequest(std::string("header has no '") + key + "'");
  }
  if (!it->is_number_integer()) return BadRequest(std::string("'") + key + "' must be an integer");
  const bool fits =
      !it->is_number_unsigned() || it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  const int64_t value = fits ? it->get<int64_t>() : INT64_MAX;
  if (!fits || value < min || value > max) {
    return BadRequest(std::string("'") + key + "' is " + it->dump() + ", it must be in " +
                      std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

Result<std::optional<int64_t>> OptionalIntField(const json& header, const char* key) {
  if (!header.contains(key) || header[key].is_null()) return std::optional<int64_t>();
  NS_ASSIGN_OR_RETURN(int64_t v, IntField(header, key, INT64_MIN, INT64_MAX, std::nullopt));
  return std::optional<int64_t>(v);
}

// An integer of an answer; absent fields are 0 (a later version may drop
// a statistic).
Result<int64_t> AnswerInt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return int64_t{0};
  if (!it->is_number_integer()) {
    return Status::InvalidArgument(std::string("vector search answer: '") + key +
                                   "' is not an integer");
  }
  return it->get<int64_t>();
}

}  // namespace

VectorQuery SearchRequest::Query() const {
  VectorQuery q;
  q.vector = vector;
  q.k = k;
  q.ef = ef;
  q.exact = exact;
  q.codes_only = codes_only;
  q.allowed = allowed ? &*allowed : nullptr;
  q.created_min = created_min;
  q.created_max = created_max;
  return q;
}

std::string EncodeSearchRequest(const VectorQuery& query, int64_t min_seq) {
  json header = {
      {"k", query.k},
      {"ef", query.ef},
      {"exact", query.exact},
      {"codes_only", query.codes_only},
      {"min_seq", min_seq},
      {"dim", query.vector.size()},
      {"allowed_count", query.allowed ? static_cast<int64_t>(query.allowed->size()) : int64_t{-1}}};
  if (query.created_min) header["created_min"] = *query.created_min;
  if (query.created_max) header["created_max"] = *query.created_max;
  const std::string text = header.dump();
  const size_t vector_bytes = query.vector.size() * sizeof(float);
  const size_t allowed_bytes = query.allowed ? query.allowed->size() * sizeof(int64_t) : 0;
  std::string body(kLengthBytes + text.size() + vector_bytes + allowed_bytes, '\0');
  char* out = body.data();
  const auto length = static_cast<uint32_t>(text.size());
  std::memcpy(out, &length, kLengthBytes);
  out += kLengthBytes;
  std::memcpy(out, text.data(), text.size());
  out += text.size();
  if (vector_bytes > 0) std::memcpy(out, query.vector.data(), vector_bytes);
  out += vector_bytes;
  if (allowed_bytes > 0) std::memcpy(out, query.allowed->data(), allowed_bytes);
  return body;
}

Result<SearchRequest> DecodeSearchRequest(std::string_view body) {
  if (body.size() < kLengthBytes) {
    return BadRequest("the body is " + std::to_string(body.size()) +
                      " bytes; it must start with a 4-byte header length");
  }
  if (body.size() > kMaxBodyBytes) {
    return BadRequest("the body is " + std::to_string(body.size()) + " bytes, more than the " +
                      std::to_string(kMaxBodyBytes) + " allowed");
  }
  uint32_t header_len = 0;
  std::memcpy(&header_len, body.data(), kLengthBytes);
  if (header_len > kMaxHeaderBytes) {
    return BadRequest("the header length is " + std::to_string(header_len) +
                      " bytes, more than the " + std::to_string(kMaxHeaderBytes) + " allowed");
  }
  if (header_len > body.size() - kLengthBytes) {
    return BadRequest("the header length " + std::to_string(header_len) +
                      " runs past the end of the body (" + std::to_string(body.size()) + " bytes)");
  }
  const json header = json::parse(body.substr(kLengthBytes, header_len), nullptr, false);
  if (!header.is_object()) return BadRequest("the header is not a JSON object");

  SearchRequest r;
  NS_ASSIGN_OR_RETURN(int64_t k, IntField(header, "k", 1, kMaxK, std::nullopt));
  NS_ASSIGN_OR_RETURN(int64_t ef, IntField(header, "ef", 0, kMaxEf, 0));
  NS_ASSIGN_OR_RETURN(r.min_seq, IntField(header, "min_seq", 0, INT64_MAX, std::nullopt));
  NS_ASSIGN_OR_RETURN(int64_t dim, IntField(header, "dim", 1, kMaxDim, std::nullopt));
  NS_ASSIGN_OR_RETURN(int64_t allowed_count, IntField(header, "allowed_count", -1,
                                                      static_cast<int64_t>(kMaxBodyBytes / 8), -1));
  NS_ASSIGN_OR_RETURN(r.created_min, OptionalIntField(header, "created_min"));
  NS_ASSIGN_OR_RETURN(r.created_max, OptionalIntField(header, "created_max"));
  if (header.contains("exact") && !header["exact"].is_null()) {
    if (!header["exact"].is_boolean()) return BadRequest("'exact' must be true or false");
    r.exact = header["exact"].get<bool>();
  }
  if (header.contains("codes_only") && !header["codes_only"].is_null()) {
    if (!header["codes_only"].is_boolean()) return BadRequest("'codes_only' must be true or false");
    r.codes_only = header["codes_only"].get<bool>();
  }
  r.k = static_cast<size_t>(k);
  r.ef = static_cast<size_t>(ef);

  // Both counts are bounded above, so the sum cannot overflow.
  const uint64_t vector_bytes = static_cast<uint64_t>(dim) * sizeof(float);
  const uint64_t allowed_bytes =
      allowed_count > 0 ? static_cast<uint64_t>(allowed_count) * sizeof(int64_t) : 0;
  const uint64_t expected = kLengthBytes + header_len + vector_bytes + allowed_bytes;
  if (body.size() != expected) {
    return BadRequest("the body is " + std::to_string(body.size()) +
                      " bytes; its header announces " + std::to_string(expected) + " (" +
                      std::to_string(dim) + " floats and " +
                      std::to_string(std::max<int64_t>(allowed_count, 0)) + " rowids)");
  }
  const char* in = body.data() + kLengthBytes + header_len;
  r.vector.resize(static_cast<size_t>(dim));
  std::memcpy(r.vector.data(), in, vector_bytes);
  in += vector_bytes;
  if (allowed_count >= 0) {
    std::vector<int64_t>& allowed = r.allowed.emplace(static_cast<size_t>(allowed_count));
    if (allowed_bytes > 0) std::memcpy(allowed.data(), in, allowed_bytes);
    // The indexes binary-search the list: out of order, they would silently
    // miss rows.
    for (size_t i = 1; i < allowed.size(); ++i) {
      if (allowed[i] <= allowed[i - 1]) {
        return BadRequest("allowed rowids must be strictly increasing; rowid " +
                          std::to_string(allowed[i]) + " at position " + std::to_string(i) +
                          " follows " + std::to_string(allowed[i - 1]));
      }
    }
  }
  return r;
}

std::string EncodeSearchReply(const SearchReply& reply) {
  const VectorAnswer& a = reply.answer;
  json neighbors = json::array();
  for (const vector::Neighbor& n : a.result.neighbors) {
    neighbors.push_back(json::array({n.label, n.distance}));
  }
  const vector::SearchStats& s = a.result.stats;
  json j = {{"neighbors", std::move(neighbors)},
            {"plan", a.plan},
            {"index_size", a.index_size},
            {"partitions_searched", a.partitions_searched},
            {"partitions_pruned", a.partitions_pruned},
            {"distances_computed", s.distances_computed},
            {"int8_distances", s.int8_distances},
            {"nodes_visited", s.nodes_visited},
            {"filtered_out", s.filtered_out},
            {"ef_used", s.ef_used},
            {"exact", s.exact},
            {"code_distances", s.code_distances},
            {"applied_seq", reply.applied_seq}};
  return j.dump();
}

Result<SearchReply> DecodeSearchReply(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("vector search answer: " + what);
  };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("neighbors") || !j["neighbors"].is_array()) return bad("no 'neighbors' array");
  SearchReply reply;
  VectorAnswer& a = reply.answer;
  for (const json& n : j["neighbors"]) {
    if (!n.is_array() || n.size() != 2 || !n[0].is_number_integer() ||
        !(n[1].is_number() || n[1].is_null())) {
      return bad("a neighbour is not [rowid, distance]");
    }
    // JSON has no NaN: a NaN distance (a zero query vector under cosine)
    // arrives as null.
    const float distance =
        n[1].is_null() ? std::numeric_limits<float>::quiet_NaN() : n[1].get<float>();
    a.result.neighbors.push_back({n[0].get<int64_t>(), distance});
  }
  if (!j.contains("plan") || !j["plan"].is_string()) return bad("no 'plan' string");
  a.plan = j["plan"].get<std::string>();
  NS_ASSIGN_OR_RETURN(a.index_size, AnswerInt(j, "index_size"));
  NS_ASSIGN_OR_RETURN(int64_t searched, AnswerInt(j, "partitions_searched"));
  NS_ASSIGN_OR_RETURN(int64_t pruned, AnswerInt(j, "partitions_pruned"));
  a.partitions_searched = static_cast<int>(searched);
  a.partitions_pruned = static_cast<int>(pruned);
  vector::SearchStats& s = a.result.stats;
  NS_ASSIGN_OR_RETURN(int64_t distances, AnswerInt(j, "distances_computed"));
  NS_ASSIGN_OR_RETURN(int64_t int8_distances, AnswerInt(j, "int8_distances"));
  NS_ASSIGN_OR_RETURN(int64_t visited, AnswerInt(j, "nodes_visited"));
  NS_ASSIGN_OR_RETURN(int64_t filtered, AnswerInt(j, "filtered_out"));
  NS_ASSIGN_OR_RETURN(int64_t ef_used, AnswerInt(j, "ef_used"));
  s.distances_computed = static_cast<uint64_t>(distances);
  s.int8_distances = static_cast<uint64_t>(int8_distances);
  s.nodes_visited = static_cast<uint64_t>(visited);
  s.filtered_out = static_cast<uint64_t>(filtered);
  s.ef_used = static_cast<uint32_t>(ef_used);
  auto exact = j.find("exact");
  s.exact = exact != j.end() && exact->is_boolean() && exact->get<bool>();
  auto codes = j.find("code_distances");
  s.code_distances = codes != j.end() && codes->is_boolean() && codes->get<bool>();
  NS_ASSIGN_OR_RETURN(reply.applied_seq, AnswerInt(j, "applied_seq"));
  return reply;
}

std::string EncodeError(std::string_view message) {
  return json{{"error", std::string(message)}}.dump();
}

std::string DecodeError(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return std::string(body.substr(0, 200));
}

}  // namespace nodespace::service
