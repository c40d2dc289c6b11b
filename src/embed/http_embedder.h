// A client for external embedding servers that speak the OpenAI-compatible
// protocol (OpenAI, Ollama, llama.cpp server, vLLM, text-embeddings-inference):
//
//   POST {base_url}/v1/embeddings
//   {"model": "<model>", "input": ["text", ...]}
//   → {"data": [{"index": 0, "embedding": [0.1, ...]}, ...]}
//
// Inputs are sent in batches of at most batch_size texts. The `data` items
// may come in any order; they are placed by `index`, and every index of the
// batch must appear exactly once.
//
// Retries: connection failures, timeouts, HTTP 5xx and 429 are retried up to
// max_attempts in total, waiting initial_backoff_ms · 2^(attempt-1) (capped
// at max_backoff_ms) with "equal jitter" (a uniform draw from the upper half
// of that delay); a 429 with `Retry-After: <seconds>` waits that long instead,
// capped at max_retry_after_ms. Any other 4xx fails at once: the request
// itself is wrong and sending it again cannot help.
//
// Errors (all name the endpoint):
//   IOError            unreachable / 5xx after all attempts, malformed
//                      response (not JSON, wrong shape, wrong count,
//                      duplicate or missing index, non-finite or zero vector)
//   Busy               still 429 after all attempts
//   InvalidArgument    4xx other than 429; dims differ from the expected ones
//
// Thread safety: Embed may be called from several threads at once. Each call
// opens its own connection (kept alive across that call's batches); the only
// state shared between calls is the learned dims and the counters, all
// atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "embed/embedder.h"
#include "nodespace/status.h"

namespace nodespace::embed {

struct HttpEmbedderOptions {
  // "http://host:port" or "https://host" (https needs cpp-httplib built with
  // OpenSSL, as Debian's is), optionally with a path prefix
  // ("http://host/api" posts to /api/v1/embeddings). No trailing slash needed.
  std::string base_url;
  std::string model;
  // Expected vector length; 0 accepts the first response's length and then
  // enforces it.
  int dims = 0;
  // Sent as "Authorization: Bearer <api_key>" when not empty.
  std::string api_key;
  // Most texts per request.
  size_t batch_size = 64;
  int connect_timeout_ms = 2000;
  int read_timeout_ms = 30000;
  // Tries per request, the first included (1 = never retry).
  int max_attempts = 3;
  int initial_backoff_ms = 250;
  int max_backoff_ms = 8000;
  int max_retry_after_ms = 30000;
  // How to wait between attempts; tests replace it to record the delays
  // instead of sleeping. Empty = std::this_thread::sleep_for.
  std::function<void(int milliseconds)> sleep;
};

class HttpEmbedder : public Embedder {
 public:
  // InvalidArgument for a malformed base_url, an empty model, batch_size 0 or
  // max_attempts < 1. Does not contact the server.
  static Result<std::unique_ptr<HttpEmbedder>> Create(HttpEmbedderOptions options);

  // "http:<model>"
  std::string name() const override { return "http:" + options_.model; }
  // The expected dims, or 0 until the first response when options.dims == 0.
  int dims() const override { return dims_.load(); }
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;

  // Counters since creation, for logs and tests.
  uint64_t requests_sent() const { return requests_sent_.load(); }
  uint64_t retries() const { return retries_.load(); }
  // "{base_url}/v1/embeddings", as used in error messages.
  const std::string& endpoint() const { return endpoint_; }

 private:
  HttpEmbedder(HttpEmbedderOptions options, std::string scheme_host_port, std::string path);

  HttpEmbedderOptions options_;
  std::string scheme_host_port_;
  std::string path_;      // e.g. "/v1/embeddings"
  std::string endpoint_;  // scheme_host_port_ + path_
  std::atomic<int> dims_;
  std::atomic<uint64_t> requests_sent_{0};
  std::atomic<uint64_t> retries_{0};
};

}  // namespace nodespace::embed
