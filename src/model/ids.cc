#include "model/ids.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace nodespace::ids {

TimestampMs NowMs() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string NewUuidV7() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static int64_t last_ms = -1;
  static uint16_t counter = 0;  // 12 bits used (rand_a)

  uint64_t ms;
  uint16_t seq;
  uint64_t rand_b;
  {
    std::lock_guard<std::mutex> lock(mu);
    int64_t now = NowMs();
    if (now <= last_ms) {
      // Same (or earlier: clock stepped back) millisecond: keep order with the counter.
      now = last_ms;
      if (++counter > 0x0FFF) {
        ++now;  // counter exhausted: borrow the next millisecond
        counter = static_cast<uint16_t>(rng() & 0x01FF);
      }
    } else {
      counter = static_cast<uint16_t>(rng() & 0x01FF);  // leave room to count up
    }
    last_ms = now;
    ms = static_cast<uint64_t>(now);
    seq = counter;
    rand_b = rng();
  }
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | ((seq >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(seq & 0xFF);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<unsigned char>(rand_b >> (56 - 8 * i));
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3F));
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

namespace {
bool IsDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}
int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}
bool IsLeap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}
// Days since 1970-01-01 for a proleptic Gregorian date.
int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
}  // namespace

bool IsDateId(std::string_view id) {
  if (id.size() != 10 || id[4] != '-' || id[7] != '-') return false;
  if (!IsDigits(id.substr(0, 4)) || !IsDigits(id.substr(5, 2)) || !IsDigits(id.substr(8, 2))) {
    return false;
  }
  const int y = ToInt(id.substr(0, 4)), m = ToInt(id.substr(5, 2)), d = ToInt(id.substr(8, 2));
  return m >= 1 && m <= 12 && d >= 1 && d <= DaysInMonth(y, m);
}

bool IsValidId(std::string_view id, size_t max_bytes) {
  if (id.empty() || id.size() > max_bytes) return false;
  for (unsigned char c : id) {
    if (c <= 0x20 || c == 0x7F) return false;  // whitespace and control characters
  }
  return true;
}

std::string FormatTimestamp(TimestampMs ms) {
  int64_t secs = ms / 1000;
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  if (millis == 0) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  }
  return buf;
}

bool ParseTimestamp(std::string_view s, TimestampMs* out) {
  // Plain milliseconds, whatever their length: a date always holds '-', so
  // all-digit text is never one (ten digits are milliseconds too).
  if (IsDigits(s)) {
    if (s.size() > 15) return false;
    *out = std::stoll(std::string(s));
    return true;
  }
  if (s.size() < 10 || !IsDateId(s.substr(0, 10))) return false;
  const int y = ToInt(s.substr(0, 4)), mo = ToInt(s.substr(5, 2)), d = ToInt(s.substr(8, 2));
  int64_t ms = DaysFromCivil(y, mo, d) * 86400000LL;
  std::string_view rest = s.substr(10);
  if (rest.empty()) {
    *out = ms;
    return true;
  }
  if ((rest[0] != 'T' && rest[0] != ' ') || rest.size() < 9) return false;
  if (!IsDigits(rest.substr(1, 2)) || rest[3] != ':' || !IsDigits(rest.substr(4, 2)) ||
      rest[6] != ':' || !IsDigits(rest.substr(7, 2))) {
    return false;
  }
  const int h = ToInt(rest.substr(1, 2)), mi = ToInt(rest.substr(4, 2)),
            se = ToInt(rest.substr(7, 2));
  if (h > 23 || mi > 59 || se > 60) return false;
  ms += (h * 3600LL + mi * 60LL + se) * 1000LL;
  rest = rest.substr(9);
  if (!rest.empty() && rest[0] == '.') {
    size_t n = 1;
    int frac_ms = 0, digits = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (rest[n] - '0');
      ++digits;
      ++n;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 3; ++i) frac_ms *= 10;
    ms += frac_ms;
    rest = rest.substr(n);
  }
  if (rest == "Z" || rest.empty()) {
    *out = ms;
    return true;
  }
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && IsDigits(rest.substr(1, 2)) &&
      rest[3] == ':' && IsDigits(rest.substr(4, 2))) {
    const int64_t off = (ToInt(rest.substr(1, 2)) * 60LL + ToInt(rest.substr(4, 2))) * 60000LL;
    *out = rest[0] == '+' ? ms - off : ms + off;
    return true;
  }
  return false;
}

}  // namespace nodespace::ids
