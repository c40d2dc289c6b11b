#include "embed/lsa_embedder.h"

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <numbers>

#include "embed/text_analyzer.h"

namespace nodespace::embed {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the LSA model format stores little-endian values with memcpy");

constexpr char kMagic[8] = {'N', 'S', 'L', 'S', 'A', 'M', 'O', 'D'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 48;
constexpr size_t kTrailerBytes = 8;
// Sanity limits for Load, far above what Fit produces.
constexpr uint32_t kMaxDims = 4096;
constexpr uint32_t kMaxTerms = 10'000'000;
// Pass 1 forgets terms seen in one document so far when its table grows past
// this, bounding memory on corpora full of unique tokens.
constexpr size_t kMaxPass1Terms = 2'000'000;
// Rows of A processed together (bounds the temporary A·Q block).
constexpr size_t kRowBlock = 2048;

uint64_t Mix64(uint64_t x) {  // the splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

// splitmix64: tiny, fast, and its output is fully specified, unlike the
// standard library's distributions, so fits are reproducible.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return Mix64(state_);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller; the second value is discarded for clarity).
  double Gaussian() {
    double u1 = 1.0 - Uniform();  // (0, 1]
    double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  uint64_t state_;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename T>
void AppendPod(std::string* out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));
  out->append(buf, sizeof(T));
}

template <typename T>
T ReadPod(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

std::string Hex16(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kDigits[v & 0xF];
  return s;
}

// Compressed sparse rows of the TF-IDF matrix.
struct Csr {
  std::vector<uint64_t> row_start{0};
  std::vector<uint32_t> col;
  std::vector<float> val;
  size_t rows() const { return row_start.size() - 1; }
};

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Y = A^T (A Q) when y is non-null; G += (A Q)^T (A Q) when g is non-null.
// Works through A in blocks of rows so A·Q is never held whole.
void ApplyGram(const Csr& a, const RowMatrix& q, RowMatrix* y, Eigen::MatrixXd* g) {
  const Eigen::Index l = q.cols();
  const auto width = static_cast<size_t>(l);
  if (y != nullptr) y->setZero(q.rows(), l);
  RowMatrix t;
  // Plain loops over contiguous rows: the compiler vectorizes them, and they
  // run several times faster than the equivalent Eigen row expressions.
  for (size_t begin = 0; begin < a.rows(); begin += kRowBlock) {
    size_t end = std::min(a.rows(), begin + kRowBlock);
    t.setZero(static_cast<Eigen::Index>(end - begin), l);
    for (size_t r = begin; r < end; ++r) {
      double* trow = t.data() + (r - begin) * width;
      for (uint64_t k = a.row_start[r]; k < a.row_start[r + 1]; ++k) {
        const double v = a.val[k];
        const double* qrow = q.data() + size_t{a.col[k]} * width;
        for (size_t c = 0; c < width; ++c) trow[c] += v * qrow[c];
      }
    }
    if (y != nullptr) {
      for (size_t r = begin; r < end; ++r) {
        const double* trow = t.data() + (r - begin) * width;
        for (uint64_t k = a.row_start[r]; k < a.row_start[r + 1]; ++k) {
          const double v = a.val[k];
          double* yrow = y->data() + size_t{a.col[k]} * width;
          for (size_t c = 0; c < width; ++c) yrow[c] += v * trow[c];
        }
      }
    }
    if (g != nullptr) g->selfadjointView<Eigen::Lower>().rankUpdate(t.transpose());
  }
}

// G = m^T m, computed as a symmetric rank update (half the work of a full
// product); only the lower triangle is filled.
Eigen::MatrixXd LowerGram(const RowMatrix& m) {
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(m.cols(), m.cols());
  g.selfadjointView<Eigen::Lower>().rankUpdate(m.transpose());
  return g;
}

// An orthonormal basis of the columns of y. Cholesky QR done twice
// ("CholeskyQR2") is all matrix-matrix work and several times faster than
// Householder QR here. It is accurate when the first pass already comes out
// close to orthonormal, which the second pass's Gram matrix shows; subspace
// iteration on a TF-IDF matrix keeps y well enough conditioned for that.
// Otherwise (or if a Cholesky factorization fails) thin Householder QR,
// slower but always stable, is used.
RowMatrix Orthonormalize(const RowMatrix& y) {
  RowMatrix q = y;
  bool ok = true;
  for (int pass = 0; pass < 2 && ok; ++pass) {
    Eigen::MatrixXd gram = LowerGram(q);
    if (pass == 1) {
      Eigen::MatrixXd err = gram.triangularView<Eigen::Lower>();
      err -= Eigen::MatrixXd::Identity(err.rows(), err.cols());
      ok = err.cwiseAbs().maxCoeff() < 0.1;
      if (!ok) break;
    }
    Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt(gram);
    ok = llt.info() == Eigen::Success;
    if (ok) llt.matrixU().solveInPlace<Eigen::OnTheRight>(q);
  }
  if (ok) return q;
  Eigen::MatrixXd m = y;
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(m);
  Eigen::MatrixXd thin = qr.householderQ() * Eigen::MatrixXd::Identity(m.rows(), m.cols());
  return thin;
}

}  // namespace

uint64_t LsaHash64(const uint8_t* data, size_t size, uint64_t seed) {
  constexpr uint64_t kMul = 0x9FB21C651E98DF25ULL;
  uint64_t h = seed ^ Mix64(static_cast<uint64_t>(size));
  size_t i = 0;
  for (; i + 8 <= size; i += 8) h = (h ^ Mix64(ReadPod<uint64_t>(data + i))) * kMul;
  uint64_t tail = 0;
  std::memcpy(&tail, data + i, size - i);
  h = (h ^ Mix64(tail ^ (static_cast<uint64_t>(size - i) << 56))) * kMul;
  return Mix64(h);
}

Result<std::unique_ptr<LsaModel>> LsaModel::Fit(const CorpusScan& scan,
                                                const LsaFitOptions& options, LsaFitStats* stats) {
  if (options.dims < 1 || options.dims > static_cast<int>(kMaxDims)) {
    return Status::InvalidArgument("lsa dims must be in 1.." + std::to_string(kMaxDims) + ", got " +
                                   std::to_string(options.dims));
  }
  if (options.min_df < 1 || options.max_vocab < 1 || options.max_fit_docs < 1 ||
      options.oversampling < 0 || options.power_iterations < 0) {
    return Status::InvalidArgument(
        "lsa fit options: min_df, max_vocab and max_fit_docs must be positive, oversampling "
        "and power_iterations not negative");
  }
  LsaFitStats local_stats;
  LsaFitStats& st = stats != nullptr ? *stats : local_stats;
  st = LsaFitStats();
  NS_ASSIGN_OR_RETURN(std::unique_ptr<TextAnalyzer> analyzer, TextAnalyzer::Create());

  try {
    // ---- pass 1: document frequencies over the whole corpus ----
    auto t0 = std::chrono::steady_clock::now();
    std::unordered_map<std::string, uint32_t> df;
    uint64_t n_docs = 0;
    std::vector<std::string> words;
    NS_RETURN_IF_ERROR(scan([&](std::string_view text) {
      words.clear();
      analyzer->Analyze(text, &words);
      std::sort(words.begin(), words.end());
      words.erase(std::unique(words.begin(), words.end()), words.end());
      for (std::string& w : words) ++df[std::move(w)];
      ++n_docs;
      if (df.size() > kMaxPass1Terms) std::erase_if(df, [](const auto& e) { return e.second < 2; });
    }));
    st.corpus_docs = n_docs;

    struct TermDf {
      std::string term;
      uint32_t df;
    };
    std::vector<TermDf> kept;
    for (auto& [term, count] : df) {
      // The length check keeps every term within what the file format
      // allows, even if a stemmer ever lengthened a word.
      if (count >= options.min_df && term.size() <= kMaxWordBytes) kept.push_back({term, count});
    }
    df = {};
    if (kept.empty()) {
      return Status::InvalidArgument(
          "lsa fit: no term occurs in at least min_df=" + std::to_string(options.min_df) +
          " of the " + std::to_string(n_docs) + " documents");
    }
    auto by_df = [](const TermDf& x, const TermDf& y) {
      return x.df != y.df ? x.df > y.df : x.term < y.term;
    };
    if (kept.size() > options.max_vocab) {
      std::nth_element(kept.begin(), kept.begin() + static_cast<ptrdiff_t>(options.max_vocab),
                       kept.end(), by_df);
      kept.resize(options.max_vocab);
    }
    std::sort(kept.begin(), kept.end(),
              [](const TermDf& x, const TermDf& y) { return x.term < y.term; });

    std::unique_ptr<LsaModel> model(new LsaModel());
    model->corpus_docs_ = n_docs;
    model->terms_.reserve(kept.size());
    model->idf_.reserve(kept.size());
    for (const TermDf& t : kept) {
      model->terms_.push_back(t.term);
      model->idf_.push_back(
          static_cast<float>(std::log((1.0 + static_cast<double>(n_docs)) / (1.0 + t.df)) + 1.0));
    }
    kept = {};
    model->Finish();  // term_ids_ for pass 2; the fingerprint is redone below
    const size_t n_terms = model->terms_.size();
    st.vocab_terms = n_terms;
    st.pass1_seconds = SecondsSince(t0);

    // ---- pass 2: TF-IDF rows of a deterministic sample ----
    t0 = std::chrono::steady_clock::now();
    const uint64_t want = std::min<uint64_t>(n_docs, options.max_fit_docs);
    uint64_t seen = 0;
    uint64_t chosen = 0;
    Rng sample_rng(options.seed ^ 0x5A4D504C45ULL);
    Csr a;
    std::vector<std::pair<uint32_t, float>> row;
    NS_RETURN_IF_ERROR(scan([&](std::string_view text) {
      if (seen >= n_docs) return;  // the corpus grew between the passes
      // Selection sampling (Knuth's Algorithm S): exactly `want` of n_docs.
      bool take = static_cast<double>(n_docs - seen) * sample_rng.Uniform() <
                  static_cast<double>(want - chosen);
      ++seen;
      if (!take) return;
      ++chosen;
      words.clear();
      analyzer->Analyze(text, &words);
      row.clear();
      for (const std::string& w : words) {
        auto it = model->term_ids_.find(w);
        if (it != model->term_ids_.end()) row.emplace_back(it->second, 1.0f);
      }
      if (row.empty()) return;
      std::sort(row.begin(), row.end());
      size_t out = 0;
      for (size_t i = 0; i < row.size();) {
        size_t j = i;
        while (j < row.size() && row[j].first == row[i].first) ++j;
        uint32_t id = row[i].first;
        row[out++] = {
            id, static_cast<float>((1.0 + std::log(static_cast<double>(j - i))) * model->idf_[id])};
        i = j;
      }
      row.resize(out);
      double norm = 0;
      for (const auto& [id, w] : row) norm += static_cast<double>(w) * w;
      norm = std::sqrt(norm);
      for (const auto& [id, w] : row) {
        a.col.push_back(id);
        a.val.push_back(static_cast<float>(w / norm));
      }
      a.row_start.push_back(a.col.size());
    }));
    st.fit_docs = a.rows();
    st.nonzeros = a.col.size();
    st.pass2_seconds = SecondsSince(t0);
    if (a.rows() == 0) {
      return Status::InvalidArgument("lsa fit: no sampled document contains a vocabulary term");
    }
    model->fit_docs_ = a.rows();

    // ---- randomized truncated SVD ----
    t0 = std::chrono::steady_clock::now();
    const size_t k = std::min({static_cast<size_t>(options.dims), n_terms, a.rows()});
    const size_t l = std::min(n_terms, k + static_cast<size_t>(options.oversampling));
    const auto rows = static_cast<Eigen::Index>(n_terms);
    const auto cols = static_cast<Eigen::Index>(l);
    RowMatrix q(rows, cols);
    Rng gauss(options.seed);
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) q(i, j) = gauss.Gaussian();
    }
    RowMatrix y;
    for (int it = 0; it <= options.power_iterations; ++it) {
      ApplyGram(a, q, &y, nullptr);
      q = Orthonormalize(y);
    }
    y = RowMatrix();
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(cols, cols);
    ApplyGram(a, q, nullptr, &gram);
    // Only the lower triangle of gram is filled, which is all the solver reads.
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
    if (eig.info() != Eigen::Success) {
      return Status::Internal("lsa fit: eigen-decomposition of the Gram matrix did not converge");
    }
    // Eigenvalues come in ascending order: the top k are the last columns.
    Eigen::MatrixXd w(cols, static_cast<Eigen::Index>(k));
    model->sigma_.resize(k);
    for (size_t c = 0; c < k; ++c) {
      Eigen::Index src = cols - 1 - static_cast<Eigen::Index>(c);
      w.col(static_cast<Eigen::Index>(c)) = eig.eigenvectors().col(src);
      model->sigma_[c] = static_cast<float>(std::sqrt(std::max(0.0, eig.eigenvalues()(src))));
    }
    Eigen::MatrixXd vk = q * w;  // terms x k
    // Singular vectors are defined up to sign; fix it (largest entry
    // positive) so that refits of similar corpora look alike.
    for (Eigen::Index c = 0; c < vk.cols(); ++c) {
      Eigen::Index arg = 0;
      vk.col(c).cwiseAbs().maxCoeff(&arg);
      if (vk(arg, c) < 0) vk.col(c) *= -1.0;
    }
    model->dims_ = static_cast<int>(k);
    model->v_.resize(n_terms * k);
    for (size_t t = 0; t < n_terms; ++t) {
      for (size_t c = 0; c < k; ++c) {
        model->v_[t * k + c] =
            static_cast<float>(vk(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(c)));
      }
    }
    model->Finish();
    st.svd_seconds = SecondsSince(t0);
    return model;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("lsa fit: out of memory");
  }
}

void LsaModel::Finish() {
  term_ids_.clear();
  term_ids_.reserve(terms_.size());
  for (size_t i = 0; i < terms_.size(); ++i) {
    term_ids_.emplace(std::string_view(terms_[i]), static_cast<uint32_t>(i));
  }
  std::string body = SerializeBody();
  fingerprint_ = LsaHash64(reinterpret_cast<const uint8_t*>(body.data()), body.size(),
                           (static_cast<uint64_t>(dims_) << 32) | terms_.size());
}

std::string LsaModel::name() const {
  return "lsa-v1:" + std::to_string(dims_) + ":" + Hex16(fingerprint_);
}

Result<std::vector<float>> LsaModel::EmbedTerms(const std::vector<std::string>& terms) const {
  std::vector<uint32_t> ids;
  ids.reserve(terms.size());
  for (const std::string& t : terms) {
    auto it = term_ids_.find(t);
    if (it != term_ids_.end()) ids.push_back(it->second);
  }
  if (ids.empty()) {
    return Status::NotFound("text has no term in the LSA model's vocabulary (" +
                            std::to_string(terms.size()) + " terms, none known)");
  }
  std::sort(ids.begin(), ids.end());
  // The tf-idf vector is not normalised first: the result is normalised at
  // the end and the projection is linear.
  const auto k = static_cast<size_t>(dims_);
  std::vector<double> acc(k, 0.0);
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    double weight = (1.0 + std::log(static_cast<double>(j - i))) * idf_[ids[i]];
    const float* v = &v_[static_cast<size_t>(ids[i]) * k];
    for (size_t c = 0; c < k; ++c) acc[c] += weight * v[c];
    i = j;
  }
  double norm = 0;
  for (double x : acc) norm += x * x;
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) {
    return Status::NotFound("text's terms project to the zero vector in the LSA model");
  }
  std::vector<float> out(k);
  for (size_t c = 0; c < k; ++c) out[c] = static_cast<float>(acc[c] / norm);
  return out;
}

// ---- persistence (docs/formats/lsa-model.md) ----

std::string LsaModel::SerializeBody() const {
  std::string body;
  size_t term_bytes = 0;
  for (const std::string& t : terms_) term_bytes += 1 + t.size();
  body.reserve(term_bytes + 4 + 4 * (idf_.size() + sigma_.size() + v_.size()));
  for (const std::string& t : terms_) {
    body.push_back(static_cast<char>(t.size()));
    body += t;
  }
  // Pad so the floats sit 4-byte aligned in the file (header is 48 bytes).
  while ((kHeaderBytes + body.size()) % 4 != 0) body.push_back('\0');
  body.append(reinterpret_cast<const char*>(idf_.data()), idf_.size() * sizeof(float));
  body.append(reinterpret_cast<const char*>(sigma_.data()), sigma_.size() * sizeof(float));
  body.append(reinterpret_cast<const char*>(v_.data()), v_.size() * sizeof(float));
  return body;
}

std::string LsaModel::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  AppendPod<uint32_t>(&out, kFormatVersion);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(dims_));
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(terms_.size()));
  AppendPod<uint32_t>(&out, 0);  // flags
  AppendPod<uint64_t>(&out, corpus_docs_);
  AppendPod<uint64_t>(&out, fit_docs_);
  AppendPod<uint64_t>(&out, fingerprint_);
  out += SerializeBody();
  AppendPod<uint64_t>(&out, LsaHash64(reinterpret_cast<const uint8_t*>(out.data()), out.size(), 0));
  return out;
}

Status LsaModel::Save(Env& env, const std::string& path) const {
  std::string bytes;
  try {
    bytes = Serialize();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory serializing lsa model for " + path);
  }
  return WriteFileAtomically(env, path, bytes);
}

Result<std::unique_ptr<LsaModel>> LsaModel::Load(Env& env, const std::string& path) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, env.MapReadOnly(path));
  try {
    return Parse(file->data(), file->size(), "lsa model '" + path + "'");
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory loading lsa model '" + path + "'");
  }
}

Result<std::unique_ptr<LsaModel>> LsaModel::Parse(const uint8_t* data, size_t size,
                                                  const std::string& what) {
  auto corrupt = [&](const std::string& why) { return Status::Corruption(what + ": " + why); };
  if (size < kHeaderBytes + kTrailerBytes) {
    return corrupt("file is " + std::to_string(size) + " bytes, shorter than header and checksum");
  }
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0)
    return corrupt("bad magic (not an lsa model)");
  uint64_t stored_sum = ReadPod<uint64_t>(data + size - kTrailerBytes);
  if (LsaHash64(data, size - kTrailerBytes, 0) != stored_sum) {
    return corrupt("checksum mismatch (file damaged or truncated)");
  }
  uint32_t version = ReadPod<uint32_t>(data + 8);
  if (version != kFormatVersion) {
    return Status::NotSupported(what + ": format version " + std::to_string(version) +
                                ", this build reads version " + std::to_string(kFormatVersion));
  }
  uint32_t dims = ReadPod<uint32_t>(data + 12);
  uint32_t n_terms = ReadPod<uint32_t>(data + 16);
  uint32_t flags = ReadPod<uint32_t>(data + 20);
  if (dims < 1 || dims > kMaxDims) return corrupt("dims " + std::to_string(dims) + " out of range");
  if (n_terms < 1 || n_terms > kMaxTerms) {
    return corrupt("vocabulary size " + std::to_string(n_terms) + " out of range");
  }
  if (flags != 0) return corrupt("unknown flags " + std::to_string(flags));

  std::unique_ptr<LsaModel> model(new LsaModel());
  model->dims_ = static_cast<int>(dims);
  model->corpus_docs_ = ReadPod<uint64_t>(data + 24);
  model->fit_docs_ = ReadPod<uint64_t>(data + 32);
  uint64_t stored_fingerprint = ReadPod<uint64_t>(data + 40);

  const size_t end = size - kTrailerBytes;
  size_t pos = kHeaderBytes;
  model->terms_.reserve(n_terms);
  for (uint32_t i = 0; i < n_terms; ++i) {
    if (pos >= end) return corrupt("vocabulary ends early at term " + std::to_string(i));
    size_t len = data[pos++];
    if (len == 0 || len > kMaxWordBytes || pos + len > end) {
      return corrupt("bad length of term " + std::to_string(i));
    }
    std::string term(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
    if (!model->terms_.empty() && !(model->terms_.back() < term)) {
      return corrupt("vocabulary not strictly sorted at term " + std::to_string(i));
    }
    model->terms_.push_back(std::move(term));
  }
  while (pos % 4 != 0) {
    if (pos >= end || data[pos] != 0) return corrupt("bad padding after the vocabulary");
    ++pos;
  }
  const uint64_t floats = uint64_t{n_terms} + dims + uint64_t{n_terms} * dims;
  if (end - pos != floats * sizeof(float)) {
    return corrupt("expected " + std::to_string(floats * sizeof(float)) +
                   " bytes of idf, singular values and V, found " + std::to_string(end - pos));
  }
  auto read_floats = [&](std::vector<float>* out, size_t count) {
    out->resize(count);
    std::memcpy(out->data(), data + pos, count * sizeof(float));
    pos += count * sizeof(float);
    for (float f : *out) {
      if (!std::isfinite(f)) return false;
    }
    return true;
  };
  if (!read_floats(&model->idf_, n_terms)) return corrupt("non-finite idf");
  if (!read_floats(&model->sigma_, dims)) return corrupt("non-finite singular value");
  if (!read_floats(&model->v_, size_t{n_terms} * dims)) return corrupt("non-finite entry in V");
  model->Finish();
  if (model->fingerprint_ != stored_fingerprint) {
    return corrupt("fingerprint does not match the contents");
  }
  return model;
}

// ---- LsaEmbedder ----

LsaEmbedder::LsaEmbedder(std::shared_ptr<const LsaModel> model) : model_(std::move(model)) {}

LsaEmbedder::~LsaEmbedder() = default;

Result<std::unique_ptr<TextAnalyzer>> LsaEmbedder::Borrow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pool_.empty()) {
      std::unique_ptr<TextAnalyzer> a = std::move(pool_.back());
      pool_.pop_back();
      return a;
    }
  }
  return TextAnalyzer::Create();
}

void LsaEmbedder::Return(std::unique_ptr<TextAnalyzer> analyzer) {
  std::lock_guard<std::mutex> lock(mu_);
  pool_.push_back(std::move(analyzer));
}

Result<std::vector<std::vector<float>>> LsaEmbedder::Embed(const std::vector<std::string>& texts) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<TextAnalyzer> analyzer, Borrow());
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  std::vector<std::string> terms;
  for (const std::string& text : texts) {
    terms.clear();
    analyzer->Analyze(text, &terms);
    Result<std::vector<float>> v = model_->EmbedTerms(terms);
    out.push_back(v.ok() ? std::move(v).value() : std::vector<float>());
  }
  Return(std::move(analyzer));
  return out;
}

Result<std::vector<float>> LsaEmbedder::EmbedText(std::string_view text) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<TextAnalyzer> analyzer, Borrow());
  std::vector<std::string> terms = analyzer->Analyze(text);
  Return(std::move(analyzer));
  return model_->EmbedTerms(terms);
}

}  // namespace nodespace::embed
