#include "model/order_key.h"

#include <cassert>

namespace nodespace::order_key {
namespace {

constexpr std::string_view kDigits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kBase = 62;

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

// Length of the integer part (head included) announced by its head character.
int IntegerLength(char head) {
  if (head >= 'a' && head <= 'z') return head - 'a' + 2;
  if (head >= 'A' && head <= 'Z') return 'Z' - head + 2;
  return -1;
}

// A fraction strictly between `a` and `b` (b empty = 1.0). Requires a < b and
// neither ends in '0'. The result does not end in '0' either.
std::string MidFraction(std::string_view a, std::string_view b) {
  if (!b.empty()) {
    size_t n = 0;
    while (n < b.size() && (n < a.size() ? a[n] : '0') == b[n]) ++n;
    if (n > 0) {
      std::string prefix(b.substr(0, n));
      return prefix + MidFraction(a.size() > n ? a.substr(n) : std::string_view(), b.substr(n));
    }
  }
  const int da = a.empty() ? 0 : DigitValue(a[0]);
  const int db = b.empty() ? kBase : DigitValue(b[0]);
  if (db - da > 1) return std::string(1, kDigits[(da + db) / 2]);
  // Adjacent first digits.
  if (b.size() > 1) return std::string(1, b[0]);
  return std::string(1, kDigits[da]) + MidFraction(a.empty() ? a : a.substr(1), {});
}

// Integer + 1, or nullopt past the largest integer.
std::optional<std::string> Increment(std::string_view integer) {
  std::string digits(integer.substr(1));
  for (int i = static_cast<int>(digits.size()) - 1; i >= 0; --i) {
    const int d = DigitValue(digits[i]);
    if (d < kBase - 1) {
      digits[i] = kDigits[d + 1];
      return std::string(1, integer[0]) + digits;
    }
    digits[i] = '0';
  }
  const char head = integer[0];
  if (head == 'Z') return std::string("a0");
  if (head == 'z') return std::nullopt;
  const char next = static_cast<char>(head + 1);
  return std::string(1, next) + std::string(IntegerLength(next) - 1, '0');
}

// Integer - 1, or nullopt below the smallest integer.
std::optional<std::string> Decrement(std::string_view integer) {
  std::string digits(integer.substr(1));
  for (int i = static_cast<int>(digits.size()) - 1; i >= 0; --i) {
    const int d = DigitValue(digits[i]);
    if (d > 0) {
      digits[i] = kDigits[d - 1];
      return std::string(1, integer[0]) + digits;
    }
    digits[i] = 'z';
  }
  const char head = integer[0];
  if (head == 'a') return std::string("Zz");
  if (head == 'A') return std::nullopt;
  const char prev = static_cast<char>(head - 1);
  return std::string(1, prev) + std::string(IntegerLength(prev) - 1, 'z');
}

}  // namespace

bool IsValid(std::string_view key) {
  if (key.empty()) return false;
  const int int_len = IntegerLength(key[0]);
  if (int_len < 0 || key.size() < static_cast<size_t>(int_len)) return false;
  for (char c : key.substr(1)) {
    if (DigitValue(c) < 0) return false;
  }
  return key.size() == static_cast<size_t>(int_len) || key.back() != '0';
}

Result<std::string> Between(std::string_view before, std::string_view after) {
  if (!before.empty() && !IsValid(before)) {
    return Status::Corruption("invalid order key '" + std::string(before) + "'");
  }
  if (!after.empty() && !IsValid(after)) {
    return Status::Corruption("invalid order key '" + std::string(after) + "'");
  }
  if (!before.empty() && !after.empty() && before >= after) {
    return Status::Internal("order keys out of order: '" + std::string(before) + "' >= '" +
                            std::string(after) + "'");
  }
  if (before.empty() && after.empty()) return std::string("a0");

  if (before.empty()) {
    const size_t n = IntegerLength(after[0]);
    std::string_view integer = after.substr(0, n);
    if (after.size() > n) return std::string(integer);  // integer < integer + fraction
    auto dec = Decrement(integer);
    if (dec) return *dec;
    // `after` is the smallest possible key; the caller renumbers and retries.
    return Status::ResourceExhausted("no order key below '" + std::string(after) + "'");
  }

  const size_t na = IntegerLength(before[0]);
  std::string_view int_a = before.substr(0, na);
  std::string_view frac_a = before.substr(na);
  if (after.empty()) {
    auto inc = Increment(int_a);
    if (inc) return *inc;
    return std::string(int_a) + MidFraction(frac_a, {});
  }
  const size_t nb = IntegerLength(after[0]);
  std::string_view int_b = after.substr(0, nb);
  std::string_view frac_b = after.substr(nb);
  if (int_a == int_b) return std::string(int_a) + MidFraction(frac_a, frac_b);
  auto inc = Increment(int_a);
  if (inc && std::string_view(*inc) < after) return *inc;
  return std::string(int_a) + MidFraction(frac_a, {});
}

std::vector<std::string> RenumberedKeys(size_t count) {
  std::vector<std::string> keys;
  keys.reserve(count);
  std::string key = "a0";
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(key);
    auto next = Increment(key);
    assert(next.has_value());  // 62^26 keys: never exhausted
    key = std::move(*next);
  }
  return keys;
}

}  // namespace nodespace::order_key
