#include "embed/lsa_embedder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "embed/text_analyzer.h"
#include "test_util.h"

namespace nodespace::embed {
namespace {

// Three topics built from fixed word lists, plus words every topic uses.
const std::vector<std::string> kCooking = {
    "recipe", "oven", "bake",  "flour",  "sugar", "butter",  "simmer", "sauce", "garlic",  "onion",
    "pasta",  "boil", "roast", "pepper", "salt",  "kitchen", "knife",  "dough", "chicken", "soup"};
const std::vector<std::string> kNetworking = {
    "router",         "packet",  "server",    "login",  "password", "firewall", "socket",
    "protocol",       "latency", "bandwidth", "switch", "ethernet", "dns",      "proxy",
    "authentication", "session", "port",      "tls",    "gateway",  "network"};
const std::vector<std::string> kGardening = {
    "soil",       "seed",   "compost", "prune", "tomato",  "garden",     "water",
    "mulch",      "weed",   "shovel",  "bloom", "rose",    "fertilizer", "harvest",
    "greenhouse", "sprout", "hedge",   "lawn",  "orchard", "root"};
const std::vector<std::string> kShared = {"today", "week",    "note",   "idea",  "plan",
                                          "team",  "meeting", "update", "thing", "work"};

// Document i belongs to topic i % 3: nine topic words and three shared ones,
// picked by a fixed linear congruential generator.
std::vector<std::string> MakeCorpus(size_t n, uint64_t seed = 1) {
  const std::vector<std::string>* topics[] = {&kCooking, &kNetworking, &kGardening};
  uint64_t x = seed;
  auto next = [&](size_t mod) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((x >> 33) % mod);
  };
  std::vector<std::string> docs;
  for (size_t i = 0; i < n; ++i) {
    const auto& words = *topics[i % 3];
    std::string doc = "The";
    for (int w = 0; w < 9; ++w) doc += " " + words[next(words.size())];
    for (int w = 0; w < 3; ++w) doc += " and " + kShared[next(kShared.size())];
    docs.push_back(doc + ".");
  }
  return docs;
}

CorpusScan ScanOf(const std::vector<std::string>& docs) {
  return [&docs](const CorpusVisitor& visit) {
    for (const std::string& d : docs) visit(d);
    return Status::OK();
  };
}

LsaFitOptions SmallOptions() {
  LsaFitOptions o;
  o.dims = 8;
  return o;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Topics (i % 3) of the ten documents nearest to `query`.
std::vector<int> TopTenTopics(LsaEmbedder& embedder, const std::vector<std::string>& docs,
                              const std::string& query) {
  auto q = embedder.EmbedText(query);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  auto vecs = embedder.Embed(docs);
  EXPECT_TRUE(vecs.ok());
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < docs.size(); ++i) scored.emplace_back(-Dot(*q, (*vecs)[i]), i);
  std::sort(scored.begin(), scored.end());
  std::vector<int> topics;
  for (size_t i = 0; i < 10; ++i) topics.push_back(static_cast<int>(scored[i].second % 3));
  return topics;
}

TEST(LsaModel, RanksSameTopicDocumentsFirst) {
  std::vector<std::string> docs = MakeCorpus(300);
  LsaFitStats stats;
  auto model = LsaModel::Fit(ScanOf(docs), SmallOptions(), &stats);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(stats.corpus_docs, 300u);
  EXPECT_EQ(stats.fit_docs, 300u);
  EXPECT_EQ((*model)->dims(), 8);
  LsaEmbedder embedder(std::shared_ptr<const LsaModel>(std::move(*model)));

  // Queries share only a few words with any document and use other
  // inflections ("handling", "logins") than the corpus.
  EXPECT_EQ(TopTenTopics(embedder, docs, "How do we handle logins and password authentication?"),
            std::vector<int>(10, 1));
  EXPECT_EQ(TopTenTopics(embedder, docs, "baking bread: flour, butter and the oven"),
            std::vector<int>(10, 0));
  EXPECT_EQ(TopTenTopics(embedder, docs, "when to prune roses and spread compost"),
            std::vector<int>(10, 2));
}

TEST(LsaModel, EmbeddingsAreUnitLength) {
  std::vector<std::string> docs = MakeCorpus(90);
  auto model = LsaModel::Fit(ScanOf(docs), SmallOptions());
  ASSERT_TRUE(model.ok());
  LsaEmbedder embedder(std::shared_ptr<const LsaModel>(std::move(*model)));
  auto vecs = embedder.Embed({docs[0], "garden soil", "router"});
  ASSERT_TRUE(vecs.ok());
  for (const auto& v : *vecs) {
    ASSERT_EQ(v.size(), 8u);
    EXPECT_NEAR(Dot(v, v), 1.0, 1e-5);
  }
}

TEST(LsaModel, FitIsDeterministic) {
  std::vector<std::string> docs = MakeCorpus(200);
  auto a = LsaModel::Fit(ScanOf(docs), SmallOptions());
  auto b = LsaModel::Fit(ScanOf(docs), SmallOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Serialize(), (*b)->Serialize());
  EXPECT_EQ((*a)->name(), (*b)->name());
  EXPECT_EQ((*a)->name().rfind("lsa-v1:8:", 0), 0u) << (*a)->name();
  EXPECT_EQ((*a)->name().size(), std::string("lsa-v1:8:").size() + 16);

  // Another corpus, another fingerprint.
  auto c = LsaModel::Fit(ScanOf(MakeCorpus(200, 7)), SmallOptions());
  ASSERT_TRUE(c.ok());
  EXPECT_NE((*a)->fingerprint(), (*c)->fingerprint());
}

TEST(LsaModel, SubsamplesLargeCorporaDeterministically) {
  std::vector<std::string> docs = MakeCorpus(300);
  LsaFitOptions options = SmallOptions();
  options.max_fit_docs = 100;
  LsaFitStats stats;
  auto a = LsaModel::Fit(ScanOf(docs), options, &stats);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(stats.corpus_docs, 300u);
  EXPECT_EQ(stats.fit_docs, 100u);
  EXPECT_EQ((*a)->fit_docs(), 100u);
  auto b = LsaModel::Fit(ScanOf(docs), options);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->Serialize(), (*b)->Serialize());
}

TEST(LsaModel, VocabularyHonoursMinDfAndMaxVocab) {
  std::vector<std::string> docs = MakeCorpus(60);
  docs.push_back("uniqueword appears once");
  LsaFitOptions options = SmallOptions();
  auto model = LsaModel::Fit(ScanOf(docs), options);
  ASSERT_TRUE(model.ok());
  const auto& terms = (*model)->terms();
  EXPECT_TRUE(std::is_sorted(terms.begin(), terms.end()));
  EXPECT_EQ(std::count(terms.begin(), terms.end(), "uniqueword"), 0);
  EXPECT_EQ(std::count(terms.begin(), terms.end(), "the"), 0);  // stop word
  EXPECT_EQ(std::count(terms.begin(), terms.end(), "router"), 1);

  // Each document draws three of the ten shared words but only a third of
  // the documents use a topic word: the shared words have the highest df.
  options.max_vocab = 10;
  std::vector<std::string> many = MakeCorpus(300);
  auto small = LsaModel::Fit(ScanOf(many), options);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ((*small)->vocab_size(), 10u);
  auto analyzer = TextAnalyzer::Create();
  ASSERT_TRUE(analyzer.ok());
  std::vector<std::string> shared_stems;
  for (const std::string& w : kShared) (*analyzer)->Analyze(w, &shared_stems);
  std::sort(shared_stems.begin(), shared_stems.end());
  EXPECT_EQ((*small)->terms(), shared_stems);
}

TEST(LsaModel, DimsShrinkToTinyCorpora) {
  std::vector<std::string> docs = {"alpha beta gamma", "alpha beta delta", "gamma delta alpha"};
  LsaFitOptions options;  // 256 dims requested
  auto model = LsaModel::Fit(ScanOf(docs), options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->dims(), 3);  // three documents
}

TEST(LsaModel, RejectsBadInput) {
  std::vector<std::string> docs = MakeCorpus(30);
  LsaFitOptions options = SmallOptions();
  options.dims = 0;
  EXPECT_TRUE(LsaModel::Fit(ScanOf(docs), options).status().IsInvalidArgument());

  std::vector<std::string> empty;
  EXPECT_TRUE(LsaModel::Fit(ScanOf(empty), SmallOptions()).status().IsInvalidArgument());
  std::vector<std::string> all_unique = {"alpha", "beta", "gamma"};
  auto none = LsaModel::Fit(ScanOf(all_unique), SmallOptions());
  EXPECT_TRUE(none.status().IsInvalidArgument());
  EXPECT_NE(none.status().message().find("min_df=2"), std::string::npos) << none.status().message();

  int calls = 0;
  CorpusScan failing = [&](const CorpusVisitor& visit) {
    if (++calls == 2) return Status::IOError("disk read failed");
    for (const std::string& d : docs) visit(d);
    return Status::OK();
  };
  auto failed = LsaModel::Fit(failing, SmallOptions());
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError);
  EXPECT_EQ(failed.status().message(), "disk read failed");
}

TEST(LsaEmbedder, TextWithoutKnownTermsHasNoVector) {
  std::vector<std::string> docs = MakeCorpus(60);
  auto model = LsaModel::Fit(ScanOf(docs), SmallOptions());
  ASSERT_TRUE(model.ok());
  LsaEmbedder embedder(std::shared_ptr<const LsaModel>(std::move(*model)));
  EXPECT_EQ(embedder.name(), embedder.model().name());
  EXPECT_EQ(embedder.dims(), 8);

  auto single = embedder.EmbedText("zzyzx qwerty, the and of");
  EXPECT_TRUE(single.status().IsNotFound()) << single.status().ToString();
  EXPECT_TRUE(embedder.EmbedText("").status().IsNotFound());

  auto batch = embedder.Embed({"router packet", "zzyzx", "", "garden"});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 4u);
  EXPECT_EQ((*batch)[0].size(), 8u);
  EXPECT_TRUE((*batch)[1].empty());
  EXPECT_TRUE((*batch)[2].empty());
  EXPECT_EQ((*batch)[3].size(), 8u);
}

class LsaModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    docs_ = MakeCorpus(120);
    auto model = LsaModel::Fit(ScanOf(docs_), SmallOptions());
    ASSERT_TRUE(model.ok());
    model_ = std::move(*model);
    bytes_ = model_->Serialize();
    path_ = dir_.Sub("model.lsa");
  }

  void Write(const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomically(*Env::Default(), path_, bytes).ok());
  }
  Status LoadStatus() { return LsaModel::Load(*Env::Default(), path_).status(); }
  // Rewrites the trailing checksum so that a deliberate edit reaches the
  // checks behind it.
  static void Reseal(std::string* bytes) {
    uint64_t sum = LsaHash64(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size() - 8, 0);
    std::memcpy(bytes->data() + bytes->size() - 8, &sum, 8);
  }

  testing::TempDir dir_;
  std::vector<std::string> docs_;
  std::unique_ptr<LsaModel> model_;
  std::string bytes_;
  std::string path_;
};

TEST_F(LsaModelFileTest, SaveAndLoadRoundTrip) {
  ASSERT_TRUE(model_->Save(*Env::Default(), path_).ok());
  auto loaded = LsaModel::Load(*Env::Default(), path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Serialize(), bytes_);
  EXPECT_EQ((*loaded)->name(), model_->name());
  EXPECT_EQ((*loaded)->singular_values(), model_->singular_values());
  EXPECT_EQ((*loaded)->corpus_docs(), 120u);

  auto original_vectors = LsaEmbedder(std::shared_ptr<const LsaModel>(std::move(model_)))
                              .Embed({docs_[0], docs_[1], "network garden"});
  auto loaded_vectors = LsaEmbedder(std::shared_ptr<const LsaModel>(std::move(*loaded)))
                            .Embed({docs_[0], docs_[1], "network garden"});
  ASSERT_TRUE(original_vectors.ok() && loaded_vectors.ok());
  EXPECT_EQ(*original_vectors, *loaded_vectors);
}

TEST_F(LsaModelFileTest, MissingFileIsNotCorruption) {
  Status st = LoadStatus();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.code(), StatusCode::kCorruption);
}

TEST_F(LsaModelFileTest, EmptyFileIsCorruption) {
  Write("");
  EXPECT_EQ(LoadStatus().code(), StatusCode::kCorruption);
}

TEST_F(LsaModelFileTest, TruncatedFileIsCorruption) {
  for (size_t len : {size_t{7}, size_t{48}, size_t{56}, size_t{100}, bytes_.size() / 2,
                     bytes_.size() - 9, bytes_.size() - 1}) {
    Write(bytes_.substr(0, len));
    EXPECT_EQ(LoadStatus().code(), StatusCode::kCorruption) << "length " << len;
  }
}

TEST_F(LsaModelFileTest, TrailingBytesAreCorruption) {
  Write(bytes_ + std::string(4, '\0'));
  EXPECT_EQ(LoadStatus().code(), StatusCode::kCorruption);
}

TEST_F(LsaModelFileTest, FlippedByteAnywhereIsCorruption) {
  // Header, vocabulary, idf/V floats and the checksum itself.
  for (size_t at : {size_t{0}, size_t{13}, size_t{30}, size_t{44}, size_t{50}, bytes_.size() / 2,
                    bytes_.size() - 20, bytes_.size() - 3}) {
    std::string bad = bytes_;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    Write(bad);
    Status st = LoadStatus();
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << "offset " << at << ": " << st.ToString();
  }
}

TEST_F(LsaModelFileTest, BadMagicIsCorruption) {
  std::string bad = bytes_;
  bad[0] = 'X';
  Reseal(&bad);
  Write(bad);
  Status st = LoadStatus();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("magic"), std::string::npos) << st.message();
}

TEST_F(LsaModelFileTest, NewerVersionIsNotSupported) {
  std::string newer = bytes_;
  newer[8] = 2;
  Reseal(&newer);
  Write(newer);
  EXPECT_EQ(LoadStatus().code(), StatusCode::kNotSupported);
}

TEST_F(LsaModelFileTest, InconsistentContentsBehindAValidChecksumAreCorruption) {
  // A changed dims field makes the sizes disagree.
  std::string dims = bytes_;
  dims[12] = static_cast<char>(dims[12] + 1);
  Reseal(&dims);
  Write(dims);
  EXPECT_EQ(LoadStatus().code(), StatusCode::kCorruption);

  // A changed float keeps the sizes but not the fingerprint.
  std::string value = bytes_;
  value[value.size() - 12] = static_cast<char>(value[value.size() - 12] ^ 0x01);
  Reseal(&value);
  Write(value);
  Status st = LoadStatus();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("fingerprint"), std::string::npos) << st.message();

  // A NaN in V.
  std::string nan = bytes_;
  const uint32_t kNaN = 0x7FC00000;
  std::memcpy(nan.data() + nan.size() - 12, &kNaN, 4);
  Reseal(&nan);
  Write(nan);
  EXPECT_EQ(LoadStatus().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace nodespace::embed
