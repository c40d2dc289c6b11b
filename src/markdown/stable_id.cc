#include "markdown/stable_id.h"

#include <cstdint>

#include "model/stable_hash.h"

namespace nodespace::markdown {
namespace {

// Mixes the bits so that keys differing in their last byte differ everywhere.
uint64_t Finish(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void AppendHex(uint64_t v, int digits, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(v >> (4 * i)) & 0xF]);
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string StableId(std::string_view key) {
  uint64_t hi = Finish(stable_hash::Fnv1a64(key));
  uint64_t lo = Finish(stable_hash::Fnv1a64(key, 0x84222325cbf29ce4ULL) ^ hi);
  hi = (hi & ~0xF000ULL) | 0x8000ULL;                         // version 8
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 9562 variant
  std::string out;
  out.reserve(36);
  AppendHex(hi >> 32, 8, &out);
  out.push_back('-');
  AppendHex((hi >> 16) & 0xFFFF, 4, &out);
  out.push_back('-');
  AppendHex(hi & 0xFFFF, 4, &out);
  out.push_back('-');
  AppendHex(lo >> 48, 4, &out);
  out.push_back('-');
  AppendHex(lo & 0xFFFFFFFFFFFFULL, 12, &out);
  return out;
}

bool IsStableId(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !IsHex(id[i])) return false;
  }
  return id[14] == '8' && (id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
}

std::string ContentHash(std::string_view data) {
  std::string out;
  AppendHex(stable_hash::Fnv1a64(data), 16, &out);
  return out;
}

}  // namespace nodespace::markdown
