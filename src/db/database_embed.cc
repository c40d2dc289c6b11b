// The built-in embedder: fitting it on the database's own text, giving nodes
// without a vector one, and embedding query text.
#include <chrono>

#include "db/database_impl.h"
#include "embed/http_embedder.h"
#include "embed/lsa_embedder.h"
#include "env/env.h"
#include "storage/meta.h"

namespace nodespace {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

constexpr const char* kBuiltinEmbedder = "lsa";
constexpr const char* kExternalEmbedder = "http";
// Finds the nodes still waiting for a vector without scanning the rest.
constexpr const char* kPendingIndexSql =
    "CREATE INDEX IF NOT EXISTS nodes_without_vector ON nodes(rowid) "
    "WHERE embedding IS NULL AND lifecycle = 0";
constexpr size_t kEmbedBatch = 2000;
// The built-in model whose full pass over the nodes last finished: a pass
// cut short (a killed process) leaves it naming the model before, so the
// next refit re-embeds everything.
constexpr const char* kFullyEmbeddedKey = "embedder_fully_embedded";
// The built-in embedder's dimension when the caller names none.
constexpr int kDefaultBuiltinDims = 256;

// The value under `key`, empty when there is none.
Result<std::string> Meta(Connection& conn, const char* key) {
  NS_ASSIGN_OR_RETURN(std::optional<std::string> value, storage::ReadMeta(conn, key));
  return value.value_or("");
}

}  // namespace

std::string Database::Impl::ModelPath() const {
  return path_ + "/lsa.model";
}

Result<std::shared_ptr<embed::Embedder>> Database::Impl::ActiveEmbedder() {
  std::string kind, model, url;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(kind, Meta(*conn, "embedder"));
    NS_ASSIGN_OR_RETURN(model, Meta(*conn, "embedder_model"));
    NS_ASSIGN_OR_RETURN(url, Meta(*conn, "embedder_url"));
  }
  if (kind.empty()) {
    return Status::InvalidArgument(
        "this database has no embedder for query text; run `nodespace embed` to fit the "
        "built-in one, or search with a query vector");
  }
  const std::string key = kind + "|" + model + "|" + url;
  std::lock_guard<std::mutex> lock(embedder_mu_);
  if (embedder_ != nullptr && embedder_model_ == key) return embedder_;
  if (kind == kBuiltinEmbedder) {
    Result<std::unique_ptr<embed::LsaModel>> loaded =
        embed::LsaModel::Load(*Env::Default(), ModelPath());
    if (!loaded.ok()) {
      return loaded.status().WithContext(
          "the built-in embedder's model (refit it with `nodespace embed`)");
    }
    embedder_ = std::make_shared<embed::LsaEmbedder>(std::move(*loaded));
  } else if (kind == kExternalEmbedder) {
    embed::HttpEmbedderOptions o;
    o.base_url = url;
    o.model = model;
    o.api_key = external_api_key_;
    NS_ASSIGN_OR_RETURN(std::unique_ptr<embed::HttpEmbedder> http,
                        embed::HttpEmbedder::Create(std::move(o)));
    embedder_ = std::move(http);
  } else {
    return Status::NotSupported("embedder '" + kind + "' is not known to this build");
  }
  embedder_model_ = key;
  return embedder_;
}

Result<std::vector<std::vector<float>>> Database::Embed(const std::vector<std::string>& texts,
                                                        std::string* model) const {
  return impl_->EmbedTexts(texts, model);
}

Result<std::vector<std::vector<float>>> Database::Impl::EmbedTexts(
    const std::vector<std::string>& texts, std::string* model) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<embed::Embedder> embedder, ActiveEmbedder());
  if (model != nullptr) *model = embedder->name();
  if (texts.empty()) return std::vector<std::vector<float>>{};
  return embedder->Embed(texts);
}

Result<std::vector<float>> Database::Impl::EmbedQuery(const std::string& text) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<embed::Embedder> embedder, ActiveEmbedder());
  NS_ASSIGN_OR_RETURN(std::vector<std::vector<float>> v, embedder->Embed({text}));
  if (v.size() != 1 || v[0].empty()) {
    return Status::InvalidArgument("none of the query's words occur in this database's text");
  }
  return std::move(v[0]);
}

Result<EmbedReport> Database::Impl::UseExternalEmbedder(const ExternalEmbedderOptions& options) {
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  if (options.model.empty()) return Status::InvalidArgument("the embedder needs a model name");
  embed::HttpEmbedderOptions o;
  o.base_url = options.base_url;
  o.model = options.model;
  o.dims = options.dims;
  o.api_key = options.api_key;
  o.batch_size = options.batch_size;
  o.read_timeout_ms = options.timeout_ms;
  o.max_attempts = options.max_attempts;
  NS_ASSIGN_OR_RETURN(std::unique_ptr<embed::HttpEmbedder> http,
                      embed::HttpEmbedder::Create(std::move(o)));
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(std::string kind, Meta(*conn, "embedder"));
    NS_ASSIGN_OR_RETURN(std::string model, Meta(*conn, "embedder_model"));
    NS_ASSIGN_OR_RETURN(std::string stored_dims, Meta(*conn, "embedding_dim"));
    if (!stored_dims.empty() && (kind != kExternalEmbedder || model != options.model)) {
      return Status::InvalidArgument("this database holds " + stored_dims + "-dim vectors from " +
                                     (kind.empty() ? std::string("callers") : model) +
                                     "; another embedder would mix two vector spaces");
    }
  }
  NS_RETURN_IF_ERROR(WriteMeta({{"embedder", kExternalEmbedder},
                                {"embedder_model", options.model},
                                {"embedder_url", options.base_url}},
                               kPendingIndexSql));
  {
    std::lock_guard<std::mutex> lock(embedder_mu_);
    embedder_ = std::move(http);
    embedder_model_ = std::string(kExternalEmbedder) + "|" + options.model + "|" + options.base_url;
    external_api_key_ = options.api_key;
  }
  return EmbedNodes(/*all=*/false);
}

Result<EmbedReport> Database::Impl::FitBuiltinEmbedder(int dims) {
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  if (dims != 0 && (dims < 2 || dims > 4096)) {
    return Status::InvalidArgument("dims must be between 2 and 4096");
  }
  EmbedReport report;
  embed::LsaFitOptions fit;
  fit.dims = dims;
  std::string stored_dims, stored_model;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(std::string embedder, Meta(*conn, "embedder"));
    if (embedder == kBuiltinEmbedder) {
      NS_ASSIGN_OR_RETURN(stored_model, Meta(*conn, kFullyEmbeddedKey));
    }
    NS_ASSIGN_OR_RETURN(stored_dims, Meta(*conn, "embedding_dim"));
    if (!stored_dims.empty() && embedder != kBuiltinEmbedder) {
      return Status::InvalidArgument("this database holds " + stored_dims +
                                     "-dim vectors supplied by callers; the built-in embedder "
                                     "would mix two vector spaces");
    }
    // A refit keeps the dimension the stored vectors have: every vector
    // index (each partition's, the vector service's) is built for it.
    if (!stored_dims.empty()) {
      if (dims != 0 && std::to_string(dims) != stored_dims) {
        return Status::InvalidArgument(
            "this database's vectors have " + stored_dims + " dims and a refit keeps them; " +
            std::to_string(dims) + " dims need a new database (export, import --no-embeddings, " +
            "embed --dims " + std::to_string(dims) + ")");
      }
      fit.dims = std::stoi(stored_dims);
    } else if (dims == 0) {
      fit.dims = kDefaultBuiltinDims;
    }
    // In a small database most words occur once; keep them, or short notes
    // would have no known word at all.
    NS_ASSIGN_OR_RETURN(int64_t nodes, conn->QueryInt("SELECT count(*) FROM nodes"));
    if (nodes < 10000) fit.min_df = 1;
  }
  const auto start = std::chrono::steady_clock::now();
  embed::LsaFitStats stats;
  // Each pass reads the text again rather than holding a million strings.
  auto scan = [this](const embed::CorpusVisitor& visit) -> Status {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn->Prepare("SELECT content FROM nodes WHERE lifecycle = 0"));
    ScopedStatement s(*stmt);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      visit(s->ColumnText(0));
    }
    return Status::OK();
  };
  NS_ASSIGN_OR_RETURN(std::unique_ptr<embed::LsaModel> model,
                      embed::LsaModel::Fit(scan, fit, &stats));
  if (!stored_dims.empty() && std::to_string(model->dims()) != stored_dims) {
    return Status::InvalidArgument("the text now supports only " + std::to_string(model->dims()) +
                                   " dims, the stored vectors have " + stored_dims);
  }
  NS_RETURN_IF_ERROR(model->Save(*Env::Default(), ModelPath()));
  report.model = model->name();
  report.fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(embedder_mu_);
    embedder_ = std::make_shared<embed::LsaEmbedder>(std::move(model));
    embedder_model_ = std::string(kBuiltinEmbedder) + "|" + report.model + "|";
  }
  NS_RETURN_IF_ERROR(WriteMeta(
      {{"embedder", kBuiltinEmbedder}, {"embedder_model", report.model}, {"embedder_url", ""}},
      kPendingIndexSql));
  // The model's name carries a fingerprint of all of it: the same name is
  // the same model, whose vectors the nodes already hold once a full pass
  // with it finished (those written since wait as pending). Re-embedding
  // them would rewrite every vector, and every index would take each one
  // in again, for nothing.
  const bool same_model = report.model == stored_model;
  NS_ASSIGN_OR_RETURN(EmbedReport embedded, EmbedNodes(/*all=*/!same_model));
  if (!same_model) NS_RETURN_IF_ERROR(WriteMeta({{kFullyEmbeddedKey, report.model}}, ""));
  report.embedded = embedded.embedded;
  report.without_terms = embedded.without_terms;
  return report;
}

Result<EmbedReport> Database::Impl::EmbedPending() {
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(std::string embedder, Meta(*conn, "embedder"));
    if (embedder.empty()) return EmbedReport{};
  }
  return EmbedNodes(/*all=*/false);
}

Result<EmbedReport> Database::Impl::EmbedNodes(bool all) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<embed::Embedder> embedder, ActiveEmbedder());
  EmbedReport report;
  report.model = embedder->name();
  int64_t after_rowid = 0;
  while (true) {
    struct Pending {
      std::string id;
      int64_t version;
      std::string content;
    };
    std::vector<Pending> batch;
    {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      NS_ASSIGN_OR_RETURN(
          Statement * stmt,
          conn->Prepare(all ? "SELECT rowid, id, version, content FROM nodes WHERE lifecycle = 0 "
                              "AND rowid > ?1 ORDER BY rowid LIMIT ?2"
                            : "SELECT rowid, id, version, content FROM nodes INDEXED BY "
                              "nodes_without_vector WHERE embedding IS NULL AND lifecycle = 0 "
                              "AND rowid > ?1 ORDER BY rowid LIMIT ?2"));
      ScopedStatement s(*stmt);
      s->Bind(1, after_rowid).Bind(2, static_cast<int64_t>(kEmbedBatch));
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        after_rowid = s->ColumnInt(0);
        batch.push_back({s->ColumnString(1), s->ColumnInt(2), s->ColumnString(3)});
      }
    }
    if (batch.empty()) break;
    std::vector<std::string> texts;
    texts.reserve(batch.size());
    for (const Pending& p : batch) texts.push_back(p.content);
    NS_ASSIGN_OR_RETURN(std::vector<std::vector<float>> vectors, embedder->Embed(texts));
    WriteBatch writes;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (vectors[i].empty()) {
        ++report.without_terms;  // no vocabulary term: stays without a vector
        continue;
      }
      NodePatch patch;
      patch.embedding = std::move(vectors[i]);
      // The version read with the text: a node edited meanwhile is skipped
      // and picked up by the next pass.
      writes.Update(batch[i].id, std::move(patch), batch[i].version);
    }
    if (writes.empty()) continue;
    WriteOptions wo;
    wo.atomic = false;
    wo.origin = "embedder";
    NS_ASSIGN_OR_RETURN(BatchResult written, Write(writes, wo));
    for (const auto& r : written.results) {
      if (r.status.ok()) ++report.embedded;
    }
  }
  return report;
}

}  // namespace nodespace
