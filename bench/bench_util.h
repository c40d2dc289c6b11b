// Small measurement helpers shared by the benchmarks.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace nodespace::bench {

// The 1-minute load average, or -1 when unknown (reported beside timings:
// a busy machine explains a slow run).
inline double LoadAvg1() {
  double l[1] = {-1};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

// Sum of the sizes of the regular files in `p` (or of `p` if a file).
inline int64_t DiskBytes(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(p, ec)) {
    return static_cast<int64_t>(std::filesystem::file_size(p, ec));
  }
  int64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(p, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

// A field of /proc/self/status in kB (VmRSS, VmHWM, RssAnon, RssFile), or -1.
inline int64_t ProcStatusKb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace nodespace::bench
