#include "cli/progress.h"

#include <cstdio>

namespace nodespace::cli {

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

ProgressBar::ProgressBar(std::ostream& out, uint64_t total_bytes, bool enabled)
    : out_(out),
      total_(total_bytes),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::Update(uint64_t bytes, uint64_t items) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? items / secs : 0;
  char line[160];
  if (total_ > 0) {
    const double frac = bytes >= total_ ? 1.0 : static_cast<double>(bytes) / total_;
    const int width = 24;
    const int filled = static_cast<int>(frac * width);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '-');
    const double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
    std::snprintf(line, sizeof(line), "\r[%s] %3d%%  %s nodes  %s/s  ETA %d:%02d ", bar.c_str(),
                  static_cast<int>(frac * 100), WithThousands(items).c_str(),
                  WithThousands(static_cast<uint64_t>(rate)).c_str(), static_cast<int>(eta) / 60,
                  static_cast<int>(eta) % 60);
  } else {
    std::snprintf(line, sizeof(line), "\r%s nodes  %s/s ", WithThousands(items).c_str(),
                  WithThousands(static_cast<uint64_t>(rate)).c_str());
  }
  out_ << line << std::flush;
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace nodespace::cli
