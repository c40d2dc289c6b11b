// A one-line progress bar with rate and ETA, drawn on a terminal only.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace nodespace::cli {

class ProgressBar {
 public:
  // `total_bytes` 0: unknown (stdin), shows counts and rate without a bar.
  ProgressBar(std::ostream& out, uint64_t total_bytes, bool enabled);
  // Redraws at most ~10 times a second.
  void Update(uint64_t bytes, uint64_t items);
  // Clears the line.
  void Finish();

 private:
  std::ostream& out_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1,234,567"
std::string WithThousands(uint64_t n);

}  // namespace nodespace::cli
