#include "embed/http_embedder.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

namespace nodespace::embed {
namespace {

using Vectors = std::vector<std::vector<float>>;

// httplib's own names for errors are terse ("Read"); say what they mean.
std::string DescribeError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "Connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no complete response (read timed out or connection closed)";
    case httplib::Error::Write:
      return "could not send the request";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "TLS certificate verification failed";
    case httplib::Error::Canceled:
      return "request canceled";
    default:
      return "HTTP client error " + httplib::to_string(error);
  }
}

// The start of a response body for error messages, on one line.
std::string Snippet(const std::string& body) {
  constexpr size_t kMax = 200;
  std::string s = body.substr(0, kMax);
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  if (body.size() > kMax) s += "...";
  return s;
}

void SetTimeout(int ms, const std::function<void(time_t, time_t)>& set) {
  ms = std::max(ms, 1);
  set(ms / 1000, static_cast<time_t>(ms % 1000) * 1000);
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses `Retry-After: <seconds>` into milliseconds, at most `cap_ms`; -1
// when absent or an HTTP date (not supported: the backoff applies then).
int RetryAfterMs(const httplib::Response& res, int cap_ms) {
  if (!res.has_header("Retry-After")) return -1;
  std::string v = res.get_header_value("Retry-After");
  if (!AllDigits(v)) return -1;
  if (v.size() > 9) return cap_ms;
  return static_cast<int>(std::min<int64_t>(int64_t{std::stoi(v)} * 1000, cap_ms));
}

}  // namespace

Result<std::unique_ptr<HttpEmbedder>> HttpEmbedder::Create(HttpEmbedderOptions options) {
  const std::string& url = options.base_url;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    return Status::InvalidArgument("embedder base_url '" + url +
                                   "' must start with http:// or https://");
  }
  size_t host_begin = scheme_end + 3;
  size_t path_begin = url.find('/', host_begin);
  if (path_begin == std::string::npos) path_begin = url.size();
  std::string host_port = url.substr(host_begin, path_begin - host_begin);
  if (host_port.empty() || host_port.front() == ':') {
    return Status::InvalidArgument("embedder base_url '" + url + "' has no host");
  }
  size_t colon = host_port.rfind(':');
  if (colon != std::string::npos && host_port.find(']') == std::string::npos) {
    std::string port = host_port.substr(colon + 1);
    if (!AllDigits(port) || port.size() > 5 || std::stoi(port) > 65535) {
      return Status::InvalidArgument("embedder base_url '" + url + "' has a bad port");
    }
  }
  std::string prefix = url.substr(path_begin);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (options.model.empty()) return Status::InvalidArgument("embedder model must not be empty");
  if (options.batch_size == 0) return Status::InvalidArgument("embedder batch_size must be > 0");
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("embedder max_attempts must be >= 1");
  }
  if (options.dims < 0) return Status::InvalidArgument("embedder dims must be >= 0");
  std::string scheme_host_port = url.substr(0, path_begin);
  return std::unique_ptr<HttpEmbedder>(
      new HttpEmbedder(std::move(options), std::move(scheme_host_port), prefix + "/v1/embeddings"));
}

HttpEmbedder::HttpEmbedder(HttpEmbedderOptions options, std::string scheme_host_port,
                           std::string path)
    : options_(std::move(options)),
      scheme_host_port_(std::move(scheme_host_port)),
      path_(std::move(path)),
      endpoint_(scheme_host_port_ + path_),
      dims_(options_.dims) {}

Result<Vectors> HttpEmbedder::Embed(const std::vector<std::string>& texts) {
  if (texts.empty()) return Vectors();
  const std::string at = "embedder at " + endpoint_;
  try {
    httplib::Client client(scheme_host_port_);
    if (!client.is_valid()) {
      return Status::InvalidArgument(at + ": this build cannot connect to '" + scheme_host_port_ +
                                     "' (https without TLS support?)");
    }
    SetTimeout(options_.connect_timeout_ms,
               [&](time_t s, time_t us) { client.set_connection_timeout(s, us); });
    SetTimeout(options_.read_timeout_ms,
               [&](time_t s, time_t us) { client.set_read_timeout(s, us); });
    SetTimeout(options_.read_timeout_ms,
               [&](time_t s, time_t us) { client.set_write_timeout(s, us); });
    client.set_keep_alive(true);
    httplib::Headers headers;
    if (!options_.api_key.empty()) {
      headers.emplace("Authorization", "Bearer " + options_.api_key);
    }
    std::mt19937 jitter_rng(std::random_device{}());
    auto sleep = [&](int ms) {
      if (options_.sleep) {
        options_.sleep(ms);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      }
    };

    Vectors out;
    out.reserve(texts.size());
    for (size_t begin = 0; begin < texts.size(); begin += options_.batch_size) {
      size_t end = std::min(texts.size(), begin + options_.batch_size);
      const size_t n = end - begin;
      nlohmann::json request = {
          {"model", options_.model},
          {"input", std::vector<std::string>(texts.begin() + static_cast<ptrdiff_t>(begin),
                                             texts.begin() + static_cast<ptrdiff_t>(end))}};
      // Invalid UTF-8 in a text is replaced (U+FFFD) rather than failing.
      std::string body = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

      std::string response_body;
      bool got_response = false;
      std::string last_failure;
      bool rate_limited = false;
      int attempt = 1;
      for (;; ++attempt) {
        ++requests_sent_;
        httplib::Result res = client.Post(path_, headers, body, "application/json");
        int retry_after_ms = -1;
        if (!res) {
          last_failure = DescribeError(res.error());
          rate_limited = false;
        } else if (res->status >= 200 && res->status < 300) {
          response_body = std::move(res->body);
          got_response = true;
          break;
        } else if (res->status == 429) {
          last_failure = "HTTP 429: " + Snippet(res->body);
          rate_limited = true;
          retry_after_ms = RetryAfterMs(*res, std::max(options_.max_retry_after_ms, 0));
        } else if (res->status >= 500) {
          last_failure = "HTTP " + std::to_string(res->status) + ": " + Snippet(res->body);
          rate_limited = false;
        } else {
          return Status::InvalidArgument(at + " rejected the request: HTTP " +
                                         std::to_string(res->status) + ": " + Snippet(res->body));
        }
        if (attempt >= options_.max_attempts) break;
        int delay;
        if (retry_after_ms >= 0) {
          delay = retry_after_ms;
        } else {
          int64_t full = static_cast<int64_t>(std::max(options_.initial_backoff_ms, 0))
                         << std::min(attempt - 1, 30);
          full = std::min<int64_t>(full, std::max(options_.max_backoff_ms, 0));
          auto half = static_cast<int>(full / 2);
          delay = half +
                  std::uniform_int_distribution<int>(0, static_cast<int>(full) - half)(jitter_rng);
        }
        ++retries_;
        sleep(delay);
      }
      if (!got_response) {
        std::string tries = std::to_string(attempt) + (attempt == 1 ? " attempt" : " attempts");
        if (rate_limited) {
          return Status::Busy(at + " still rate-limited after " + tries + ": " + last_failure);
        }
        return Status::IOError(at + " unreachable after " + tries + ": " + last_failure);
      }

      nlohmann::json response = nlohmann::json::parse(response_body, nullptr, false);
      if (response.is_discarded()) {
        return Status::IOError(at + ": response is not valid JSON: " + Snippet(response_body));
      }
      if (!response.is_object() || !response.contains("data") || !response["data"].is_array()) {
        return Status::IOError(at + ": response has no \"data\" array: " + Snippet(response_body));
      }
      const nlohmann::json& data = response["data"];
      if (data.size() != n) {
        return Status::IOError(at + " returned " + std::to_string(data.size()) + " vectors for " +
                               std::to_string(n) + " inputs");
      }
      Vectors batch(n);
      std::vector<bool> filled(n, false);
      for (const nlohmann::json& item : data) {
        if (!item.is_object() || !item.contains("index") || !item["index"].is_number_integer() ||
            !item.contains("embedding") || !item["embedding"].is_array()) {
          return Status::IOError(at + ": a data item lacks an integer \"index\" or an " +
                                 "\"embedding\" array");
        }
        int64_t signed_index = item["index"].get<int64_t>();
        auto index = static_cast<size_t>(signed_index);
        if (signed_index < 0 || index >= n || filled[index]) {
          return Status::IOError(at + ": data index " + std::to_string(signed_index) +
                                 " is out of range or repeated (batch of " + std::to_string(n) +
                                 ")");
        }
        const nlohmann::json& emb = item["embedding"];
        int expected = dims_.load();
        if (expected == 0 && !emb.empty()) {
          dims_.compare_exchange_strong(expected, static_cast<int>(emb.size()));
          expected = dims_.load();
        }
        if (emb.size() != static_cast<size_t>(expected)) {
          return Status::InvalidArgument(at + " returned " + std::to_string(emb.size()) +
                                         " dims, expected " + std::to_string(expected));
        }
        std::vector<float> v;
        v.reserve(emb.size());
        double norm = 0;
        for (const nlohmann::json& x : emb) {
          if (!x.is_number()) {
            return Status::IOError(at + ": embedding " + std::to_string(index) +
                                   " holds a non-number");
          }
          auto f = static_cast<float>(x.get<double>());
          if (!std::isfinite(f)) {
            return Status::IOError(at + ": embedding " + std::to_string(index) +
                                   " holds a non-finite value");
          }
          norm += static_cast<double>(f) * f;
          v.push_back(f);
        }
        if (!(norm > 0)) {
          return Status::IOError(at + ": embedding " + std::to_string(index) +
                                 " is the zero vector");
        }
        batch[index] = std::move(v);
        filled[index] = true;
      }
      for (auto& v : batch) out.push_back(std::move(v));
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(at + ": out of memory");
  } catch (const std::exception& e) {
    return Status::IOError(at + ": " + e.what());
  }
}

}  // namespace nodespace::embed
