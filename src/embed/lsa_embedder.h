// The built-in offline embedder: latent semantic analysis (LSA) fitted on the
// database's own text.
//
// Fitting (LsaModel::Fit) reads the corpus twice through a caller-supplied
// scan, so the texts never have to be in memory at once:
//   pass 1  analyze every text (embed/text_analyzer.h) and count document
//           frequencies; keep terms with df >= min_df, at most max_vocab of
//           them (highest df first, ties by term); idf = ln((1+N)/(1+df)) + 1.
//   pass 2  build the sparse TF-IDF matrix A (sublinear tf 1 + ln(count),
//           L2-normalised rows) over at most max_fit_docs documents, chosen by
//           seeded selection sampling when the corpus is larger.
//   SVD     randomized truncated SVD of A: a seeded Gaussian start of
//           dims + oversampling columns, subspace iteration on A^T A with a
//           QR re-orthonormalisation after every step (Cholesky QR done
//           twice, Householder QR when that is not accurate enough), then the
//           exact eigen-decomposition of the small Gram matrix (AQ)^T (AQ).
//           The result is V_k, the top `dims` right singular vectors. Only
//           the term-side matrices (vocabulary x columns) are held whole; A·Q
//           is formed a block of rows at a time.
// The same corpus and options give a bit-identical model on the same machine:
// every random number comes from a fixed-seed generator of our own and the
// linear algebra runs on one thread.
//
// Embedding a text: e = normalize(tfidf(text) · V_k). The projection is not
// scaled by the singular values: tfidf(doc) · V_k is exactly the document's
// row of U_k Σ_k, so documents and queries share one space and cosine
// similarity weighs each latent dimension by its importance in the corpus
// (the usual LSA document-document comparison). Scaling by Σ^-1 instead would
// give the noisy low-variance dimensions the same weight as the main topics.
//
// A text none of whose terms the model knows has no embedding: EmbedText
// returns NotFound and the batch Embed returns an empty vector for it (the
// database stores no vector for such a node).
//
// The model file format is docs/formats/lsa-model.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "embed/embedder.h"
#include "env/env.h"
#include "nodespace/status.h"

namespace nodespace::embed {

class TextAnalyzer;

struct LsaFitOptions {
  // Dimensions of the embedding. Reduced to the vocabulary size or the
  // number of fitted documents when either is smaller (check dims() of the
  // result).
  int dims = 256;
  // A term must occur in at least this many documents to enter the
  // vocabulary.
  uint32_t min_df = 2;
  // The vocabulary keeps the terms with the highest document frequency.
  size_t max_vocab = 50000;
  // Above this many documents, pass 2 and the SVD use a deterministic sample
  // of this size (pass 1 still counts every document), which bounds the fit
  // time and memory of large databases.
  size_t max_fit_docs = 200000;
  // Extra columns of the random range finder beyond `dims`.
  int oversampling = 16;
  // Subspace iterations after the first range sample; more is more accurate
  // for the smaller singular values, each costs two passes over A and a QR.
  int power_iterations = 3;
  // Seed of the Gaussian start and of the document sample.
  uint64_t seed = 0x4E53'4C53'4131'0001ULL;
};

// Hands every document to `visit`. LsaModel::Fit calls the scan twice and
// expects the same documents in the same order both times; documents past
// the count of the first pass are ignored by the second. A non-OK Status
// aborts the fit and is returned by Fit.
using CorpusVisitor = std::function<void(std::string_view text)>;
using CorpusScan = std::function<Status(const CorpusVisitor& visit)>;

// What a fit did, for logs and benchmarks.
struct LsaFitStats {
  uint64_t corpus_docs = 0;  // documents seen by pass 1
  uint64_t fit_docs = 0;     // documents of the sample with at least one vocabulary term
  uint64_t vocab_terms = 0;
  uint64_t nonzeros = 0;  // of the TF-IDF matrix
  double pass1_seconds = 0;
  double pass2_seconds = 0;
  double svd_seconds = 0;
};

// A fitted model.
//
// Thread safety: immutable once Fit or Load returns; every method is const
// and may be called from several threads at once.
class LsaModel {
 public:
  static Result<std::unique_ptr<LsaModel>> Fit(const CorpusScan& scan, const LsaFitOptions& options,
                                               LsaFitStats* stats = nullptr);

  // Writes the model with all-or-nothing replacement of `path`.
  Status Save(Env& env, const std::string& path) const;
  // Corruption if the file is damaged, truncated or inconsistent;
  // NotSupported for a newer format version; the Env's error if it cannot be
  // read.
  static Result<std::unique_ptr<LsaModel>> Load(Env& env, const std::string& path);

  int dims() const { return dims_; }
  size_t vocab_size() const { return terms_.size(); }
  // A 64-bit hash of the model's contents (vocabulary, idf, singular values,
  // V_k): two fits give the same fingerprint only if their vectors agree.
  uint64_t fingerprint() const { return fingerprint_; }
  // "lsa-v1:<dims>:<fingerprint as 16 hex digits>", recorded with the vectors.
  std::string name() const;
  uint64_t corpus_docs() const { return corpus_docs_; }
  uint64_t fit_docs() const { return fit_docs_; }
  // Largest first; informational (embeddings are not scaled by them).
  const std::vector<float>& singular_values() const { return sigma_; }
  // The vocabulary in id order (sorted bytewise) and the idf of each term.
  const std::vector<std::string>& terms() const { return terms_; }
  const std::vector<float>& idf() const { return idf_; }

  // Embeds analyzed terms (TextAnalyzer output). NotFound when none of them
  // is in the vocabulary.
  Result<std::vector<float>> EmbedTerms(const std::vector<std::string>& terms) const;

  // The serialized model, byte for byte what Save writes.
  std::string Serialize() const;

 private:
  LsaModel() = default;
  LsaModel(const LsaModel&) = delete;  // term_ids_ points into terms_
  LsaModel& operator=(const LsaModel&) = delete;
  static Result<std::unique_ptr<LsaModel>> Parse(const uint8_t* data, size_t size,
                                                 const std::string& what);
  // Builds term_ids_ and fingerprint_ from the other members.
  void Finish();
  std::string SerializeBody() const;

  int dims_ = 0;
  uint64_t corpus_docs_ = 0;
  uint64_t fit_docs_ = 0;
  uint64_t fingerprint_ = 0;
  std::vector<std::string> terms_;                           // sorted, id = position
  std::vector<float> idf_;                                   // per term
  std::vector<float> sigma_;                                 // dims_ singular values
  std::vector<float> v_;                                     // terms_.size() x dims_, row-major
  std::unordered_map<std::string_view, uint32_t> term_ids_;  // views into terms_
};

// The Embedder interface over a fitted model.
//
// Thread safety: Embed and EmbedText may be called from several threads at
// once; each call borrows a TextAnalyzer from a small pool guarded by mu_.
class LsaEmbedder : public Embedder {
 public:
  explicit LsaEmbedder(std::shared_ptr<const LsaModel> model);
  ~LsaEmbedder() override;

  std::string name() const override { return model_->name(); }
  int dims() const override { return model_->dims(); }
  // A text with no vocabulary term gets an empty vector (see embedder.h).
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;
  // NotFound when the text has no vocabulary term.
  Result<std::vector<float>> EmbedText(std::string_view text);

  const LsaModel& model() const { return *model_; }

 private:
  Result<std::unique_ptr<TextAnalyzer>> Borrow();
  void Return(std::unique_ptr<TextAnalyzer> analyzer);

  std::shared_ptr<const LsaModel> model_;
  std::mutex mu_;
  std::vector<std::unique_ptr<TextAnalyzer>> pool_;  // guarded by mu_
};

// The 64-bit hash used for the model's checksum and fingerprint (its exact
// definition is in docs/formats/lsa-model.md).
uint64_t LsaHash64(const uint8_t* data, size_t size, uint64_t seed);

}  // namespace nodespace::embed
