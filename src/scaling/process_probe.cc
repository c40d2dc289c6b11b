#include "scaling/process_probe.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace nodespace::scaling {
namespace {

double CpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// read_bytes + write_bytes: what the process caused to be fetched from or
// sent to storage (page-cache hits are not I/O). -1 when unavailable.
int64_t IoBytes() {
  FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return -1;
  char line[128];
  int64_t total = 0;
  bool found = false;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long long value = 0;
    if (std::sscanf(line, "read_bytes: %lld", &value) == 1 ||
        std::sscanf(line, "write_bytes: %lld", &value) == 1) {
      total += value;
      found = true;
    }
  }
  std::fclose(f);
  return found ? total : -1;
}

}  // namespace

namespace {

int64_t ResidentBytesFrom(const std::string& statm_path) {
  FILE* f = std::fopen(statm_path.c_str(), "r");
  if (f == nullptr) return -1;
  long long size = 0;
  long long resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (n != 2) return -1;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int64_t ResidentBytes() {
  return ResidentBytesFrom("/proc/self/statm");
}

int64_t ResidentBytesOf(int pid) {
  return ResidentBytesFrom("/proc/" + std::to_string(pid) + "/statm");
}

ProcessSample ProcessProbe::Sample() {
  ProcessSample s;
  s.rss_bytes = ResidentBytes();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  const double cpu = CpuSeconds();
  s.io_bytes_total = IoBytes();
  std::lock_guard lock(mu_);
  if (has_previous_ && wall > previous_wall_s_) {
    const double dt = wall - previous_wall_s_;
    s.cpu_percent = 100.0 * (cpu - previous_cpu_s_) / dt;
    if (s.io_bytes_total >= 0 && previous_io_ >= 0) {
      s.disk_io_mb_per_sec =
          static_cast<double>(s.io_bytes_total - previous_io_) / (1024.0 * 1024.0) / dt;
    }
  }
  has_previous_ = true;
  previous_wall_s_ = wall;
  previous_cpu_s_ = cpu;
  previous_io_ = s.io_bytes_total;
  return s;
}

}  // namespace nodespace::scaling
