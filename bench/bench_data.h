// Reading the benchmark dataset (make_dataset.py's files) and summarising
// latencies; shared by the benchmarks that use nlohmann::json.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nodespace::bench {

// Milliseconds between two steady-clock instants.
inline double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Latencies of one kind of operation, in milliseconds.
struct Latencies {
  std::vector<double> ms;
  double Pct(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1,
                      static_cast<size_t>(p / 100.0 * static_cast<double>(s.size())))];
  }
  nlohmann::json Json() const {
    return {{"n", ms.size()}, {"p50_ms", Pct(50)}, {"p95_ms", Pct(95)}, {"p99_ms", Pct(99)}};
  }
};

// The first `limit` lines of a JSONL file, parsed.
inline std::vector<nlohmann::json> ReadJsonl(const std::string& path, size_t limit) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (out.size() < limit && std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// A raw little-endian array file (queries_*.f32, gt_*.i32).
template <typename T>
std::vector<T> ReadBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<size_t>(in.tellg());
  std::vector<T> v(bytes / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(bytes));
  return v;
}

}  // namespace nodespace::bench
