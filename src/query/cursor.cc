#include "query/cursor.h"

#include <nlohmann/json.hpp>

namespace nodespace::query {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kMaxCursorBytes = 64 * 1024;

std::string Base64UrlEncode(const std::string& in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

bool Base64UrlDecode(const std::string& in, std::string* out) {
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : in) {
    const char* pos = std::char_traits<char>::find(kAlphabet, 64, ch);
    if (!pos) return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(pos - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return true;
}

nlohmann::json ValueJson(const QueryValue& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

QueryValue JsonValue(const nlohmann::json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  return std::monostate{};
}

}  // namespace

std::string EncodeCursor(const Cursor& c) {
  nlohmann::json j;
  j["h"] = c.query_hash;
  j["c"] = c.ceiling;
  if (c.keyset) {
    nlohmann::json values = nlohmann::json::array();
    for (const QueryValue& v : c.sort_values) values.push_back(ValueJson(v));
    j["k"] = std::move(values);
    j["r"] = c.last_rowid;
  } else {
    j["o"] = c.offset;
  }
  return Base64UrlEncode(j.dump());
}

Result<Cursor> DecodeCursor(const std::string& text) {
  const Status bad = Status::InvalidArgument(
      "cursor: not a cursor from this query's previous page (pass next_cursor unchanged)");
  std::string raw;
  if (text.size() > kMaxCursorBytes || !Base64UrlDecode(text, &raw)) return bad;
  nlohmann::json j = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("h") || !j["h"].is_number_unsigned() || !j.contains("c") ||
      !j["c"].is_number_integer()) {
    return bad;
  }
  Cursor c;
  c.query_hash = j["h"].get<uint64_t>();
  c.ceiling = j["c"].get<int64_t>();
  if (j.contains("k")) {
    if (!j["k"].is_array() || !j.contains("r") || !j["r"].is_number_integer()) return bad;
    c.keyset = true;
    for (const auto& v : j["k"]) c.sort_values.push_back(JsonValue(v));
    c.last_rowid = j["r"].get<int64_t>();
  } else {
    if (!j.contains("o") || !j["o"].is_number_integer() || j["o"].get<int64_t>() < 0) return bad;
    c.offset = j["o"].get<int64_t>();
  }
  return c;
}

}  // namespace nodespace::query
