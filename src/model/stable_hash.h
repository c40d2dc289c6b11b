// A 64-bit hash that is the same in every process, build and platform
// (std::hash promises none of that): FNV-1a. For ids derived from content
// and for keys that outlive a process, e.g. cursors.
#pragma once

#include <cstdint>
#include <string_view>

namespace nodespace::stable_hash {

inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;

inline uint64_t Fnv1a64(std::string_view data, uint64_t basis = kFnvOffsetBasis) {
  uint64_t h = basis;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace nodespace::stable_hash
