// Turns text into embedding vectors. Implementations: the built-in LSA
// embedder (fitted on the database's own text) and a client for external
// servers that speak the OpenAI-compatible POST /v1/embeddings protocol.
//
// Thread safety: Embed() may be called from several threads at once.
#pragma once

#include <string>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::embed {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // A stable name recorded with the vectors it produced, e.g. "lsa-v1" or
  // "http:nomic-embed-text".
  virtual std::string name() const = 0;
  virtual int dims() const = 0;
  // One vector per text, in order, each of dims() finite values with a
  // non-zero norm, or empty where the embedder cannot represent that text
  // (the built-in LSA embedder: no term of the text is in its vocabulary);
  // the database stores no vector for such a text. Any error fails the call
  // as a whole; callers retry or mark the texts for later.
  virtual Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) = 0;
};

}  // namespace nodespace::embed
