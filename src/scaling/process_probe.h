// ProcessProbe: this process's resident memory, CPU time and disk I/O, read
// from the kernel (/proc/self and getrusage). Rates come from the difference
// between two samples.
//
// Cost: one sample opens and parses two small /proc files and calls
// getrusage: a few tens of microseconds (docs/SCALING.md).
//
// Thread safety: Sample() may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>

namespace nodespace::scaling {

struct ProcessSample {
  int64_t rss_bytes = -1;         // -1 when the kernel does not say
  double cpu_percent = 0;         // of one core since the previous sample
  double disk_io_mb_per_sec = 0;  // storage bytes read + written since then
  int64_t io_bytes_total = -1;    // cumulative, -1 when /proc/self/io is unreadable
};

class ProcessProbe {
 public:
  ProcessSample Sample();

 private:
  std::mutex mu_;
  bool has_previous_ = false;  // guarded by mu_
  double previous_wall_s_ = 0;
  double previous_cpu_s_ = 0;
  int64_t previous_io_ = 0;
};

// Resident set size of this process in bytes (-1 if unknown).
int64_t ResidentBytes();
// Resident set size of process `pid` in bytes (-1 if unknown, e.g. it exited).
int64_t ResidentBytesOf(int pid);

}  // namespace nodespace::scaling
