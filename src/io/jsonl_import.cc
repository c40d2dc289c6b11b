#include "io/jsonl_import.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "model/ids.h"

namespace nodespace::io {
namespace {

namespace od = simdjson::ondemand;

// What a good line becomes: a node to create or an edge to add.
struct LineOp {
  bool is_edge = false;
  NewNode node;
  Edge edge;
};

// Parses one line into an operation. Returns an error message, or "" on
// success.
std::string ParseLine(od::parser& parser, std::string& buf, const ImportOptions& options,
                      LineOp* out) {
  const size_t len = buf.size();
  buf.reserve(len + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(buf.data(), len, buf.capacity())).get(doc)) {
    return "malformed JSON";
  }
  od::object obj;
  if (doc.get_object().get(obj)) {
    const size_t start = buf.find_first_not_of(" \t");
    return start != std::string::npos && buf[start] == '{' ? "malformed JSON"
                                                           : "expected a JSON object";
  }

  NewNode node;
  bool has_id = false;
  bool is_edge = false;
  Edge edge;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return "malformed JSON";
    od::value v;
    if (field.value().get(v)) return "malformed JSON";
    od::json_type type;
    if (v.type().get(type)) return "malformed JSON";
    auto want_string = [&](std::string* out, bool allow_null) -> std::string {
      if (allow_null && type == od::json_type::null) return "";
      std::string_view s;
      if (type != od::json_type::string || v.get_string().get(s)) {
        return std::string(key) + ": expected a string";
      }
      out->assign(s);
      return "";
    };
    std::string err;
    if (key == "id") {
      if (type == od::json_type::number) {
        int64_t i;
        if (v.get_int64().get(i)) return "id: expected a string or an integer";
        node.id = std::to_string(i);
      } else {
        err = want_string(&node.id, false);
      }
      has_id = true;
    } else if (key == "parent_id") {
      if (type == od::json_type::number) {
        int64_t i;
        if (v.get_int64().get(i)) return "parent_id: expected a string or an integer";
        node.parent_id = std::to_string(i);
      } else {
        err = want_string(&node.parent_id, true);
      }
    } else if (key == "node_type") {
      err = want_string(&node.node_type, false);
    } else if (key == "content") {
      err = want_string(&node.content, false);
    } else if (key == "properties") {
      if (type == od::json_type::null) continue;
      od::object props;
      if (type != od::json_type::object || v.get_object().get(props)) {
        return "properties: expected a JSON object";
      }
      std::string_view raw;
      if (simdjson::to_json_string(props).get(raw)) return "properties: malformed JSON";
      node.properties.assign(raw);
    } else if (key == "lifecycle") {
      std::string name;
      err = want_string(&name, false);
      if (err.empty()) {
        auto lc = ParseLifecycle(name);
        if (!lc) return "lifecycle: expected active, archived or deleted, got '" + name + "'";
        node.lifecycle = *lc;
      }
    } else if (key == "version") {
      int64_t version;
      if (type != od::json_type::number || v.get_int64().get(version) || version < 1) {
        return "version: expected a positive integer";
      }
      node.version = version;
    } else if (key == "created_at" || key == "modified_at") {
      TimestampMs ms;
      if (type == od::json_type::number) {
        if (v.get_int64().get(ms)) return std::string(key) + ": expected milliseconds or ISO 8601";
      } else {
        std::string text;
        err = want_string(&text, false);
        if (err.empty() && !ids::ParseTimestamp(text, &ms)) {
          return std::string(key) + ": '" + text + "' is not an ISO 8601 date-time";
        }
      }
      if (err.empty()) (key == "created_at" ? node.created_at : node.modified_at) = ms;
    } else if (key == "embedding") {
      if (!options.with_embeddings || type == od::json_type::null) continue;
      od::array arr;
      if (type != od::json_type::array || v.get_array().get(arr)) {
        return "embedding: expected an array of numbers";
      }
      for (auto elem : arr) {
        double d;
        if (elem.get_double().get(d)) return "embedding: expected an array of numbers";
        node.embedding.push_back(static_cast<float>(d));
      }
    } else if (key == "edge") {
      od::object e;
      if (type != od::json_type::object || v.get_object().get(e)) {
        return "edge: expected an object {from, to, type, properties}";
      }
      is_edge = true;
      for (auto ef : e) {
        std::string_view ek;
        if (ef.unescaped_key().get(ek)) return "malformed JSON";
        od::value ev;
        if (ef.value().get(ev)) return "malformed JSON";
        if (ek == "properties") {
          od::object props;
          std::string_view raw;
          if (ev.get_object().get(props) || simdjson::to_json_string(props).get(raw)) {
            return "edge.properties: expected a JSON object";
          }
          edge.properties.assign(raw);
          continue;
        }
        std::string_view s;
        if (ev.get_string().get(s)) return "edge." + std::string(ek) + ": expected a string";
        if (ek == "from")
          edge.from_id.assign(s);
        else if (ek == "to")
          edge.to_id.assign(s);
        else if (ek == "type")
          edge.type.assign(s);
        else
          return "edge: unknown field '" + std::string(ek) + "'";
      }
    }
    // Other fields (title, order_key, ...) are derived or unknown: ignored.
    if (!err.empty()) return err;
  }

  if (is_edge) {
    if (edge.from_id.empty() || edge.to_id.empty() || edge.type.empty()) {
      return "edge: from, to and type are required";
    }
    out->is_edge = true;
    out->edge = std::move(edge);
    return "";
  }
  if (!has_id) return "id: required";
  // An empty id would make Create pick a fresh UUID: the line's node would get
  // a different identity on every import.
  if (node.id.empty()) return "id: must not be empty";
  if (node.node_type.empty()) node.node_type = "text";
  out->node = std::move(node);
  return "";
}

// One input line, read and parsed.
struct ParsedLine {
  enum class Kind : uint8_t { kBlank, kTooLong, kError, kOp };
  Kind kind = Kind::kBlank;
  uint64_t bytes = 0;  // the line as read plus its newline (progress counts these)
  size_t size = 0;     // the line without a trailing '\r'
  std::string error;   // kError
  LineOp op;           // kOp
};

// Reads and parses lines in input order. Parsing costs about as much as
// writing, so once an import is known to be large (StartReadAhead), a worker
// thread reads and parses ahead while the caller's thread writes; everything
// else (callbacks, writes, error order) stays on the caller's thread and in
// line order. Small inputs never start the thread.
//
// How far ahead: a whole batch when its parsed lines fit in
// kMaxReadAheadBytes. The caller takes a batch's lines in a burst and then
// writes them; a window shorter than the batch left it waiting for the
// parser during every burst (4.8 s of a 1M-node bulk load with 50,000-node
// batches and a 4,096-line window, docs/BENCHMARKS.md).
class LineReader {
 public:
  LineReader(std::istream& in, const ImportOptions& options)
      : in_(in),
        options_(options),
        max_ahead_lines_(std::max<size_t>(kMinReadAheadLines, options.batch_size)) {}
  ~LineReader() { Stop(); }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line; false at the end of the input. Rethrows what reading
  // threw on the worker.
  bool Next(ParsedLine* out) {
    if (!worker_.joinable()) return ReadLine(out);
    if (pos_ == chunk_.size()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !ready_.empty() || done_; });
      if (ready_.empty()) {
        if (error_) std::rethrow_exception(error_);
        return false;
      }
      chunk_ = std::move(ready_.front().lines);
      ready_lines_ -= chunk_.size();
      ready_bytes_ -= ready_.front().bytes;
      ready_.pop_front();
      pos_ = 0;
      cv_.notify_all();
    }
    *out = std::move(chunk_[pos_++]);
    return true;
  }

  // From now on a worker thread reads ahead (bounded to kMaxChunks chunks).
  void StartReadAhead() {
    if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
  }

  // Ends the read-ahead; the stream is not touched afterwards.
  void Stop() {
    if (!worker_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

 private:
  static constexpr size_t kChunkLines = 256;
  static constexpr size_t kMinReadAheadLines = 4096;
  static constexpr size_t kMaxReadAheadBytes = size_t{64} << 20;

  struct Chunk {
    std::vector<ParsedLine> lines;
    size_t bytes = 0;  // what the parsed lines hold in memory, roughly
  };

  // Roughly the memory a parsed line holds (its strings and floats).
  static size_t ParsedBytes(const ParsedLine& line) {
    const NewNode& n = line.op.node;
    return sizeof(ParsedLine) + line.error.size() + n.id.size() + n.parent_id.size() +
           n.node_type.size() + n.content.size() + n.properties.size() +
           n.embedding.size() * sizeof(float) + line.op.edge.from_id.size() +
           line.op.edge.to_id.size() + line.op.edge.type.size() + line.op.edge.properties.size();
  }

  bool ReadLine(ParsedLine* out) {
    if (!std::getline(in_, line_)) return false;
    *out = ParsedLine();
    out->bytes = line_.size() + 1;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    out->size = line_.size();
    if (line_.find_first_not_of(" \t") == std::string::npos) return true;
    if (line_.size() > options_.max_line_bytes) {
      out->kind = ParsedLine::Kind::kTooLong;
      return true;
    }
    out->error = ParseLine(parser_, line_, options_, &out->op);
    out->kind = out->error.empty() ? ParsedLine::Kind::kOp : ParsedLine::Kind::kError;
    return true;
  }

  void Work() {
    try {
      bool end = false;
      while (!end) {
        Chunk chunk;
        chunk.lines.resize(kChunkLines);
        size_t n = 0;
        while (n < kChunkLines && !stop_.load(std::memory_order_relaxed)) {
          if (!ReadLine(&chunk.lines[n])) {
            end = true;
            break;
          }
          chunk.bytes += ParsedBytes(chunk.lines[n]);
          ++n;
        }
        chunk.lines.resize(n);
        std::unique_lock<std::mutex> lock(mu_);
        // An empty window always takes a chunk, however large its lines.
        cv_.wait(lock, [&] {
          return stop_ || ready_.empty() ||
                 (ready_lines_ + n <= max_ahead_lines_ &&
                  ready_bytes_ + chunk.bytes <= kMaxReadAheadBytes);
        });
        if (stop_) return;
        if (n > 0) {
          ready_lines_ += n;
          ready_bytes_ += chunk.bytes;
          ready_.push_back(std::move(chunk));
        }
        done_ = end;
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::istream& in_;
  const ImportOptions& options_;
  std::string line_;               // owned by whichever thread reads
  od::parser parser_;              // likewise
  std::vector<ParsedLine> chunk_;  // the caller's current chunk
  size_t pos_ = 0;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  const size_t max_ahead_lines_;
  std::deque<Chunk> ready_;   // guarded by mu_
  size_t ready_lines_ = 0;    // guarded by mu_
  size_t ready_bytes_ = 0;    // guarded by mu_
  bool done_ = false;         // guarded by mu_
  std::exception_ptr error_;  // guarded by mu_
  std::atomic<bool> stop_{false};
};

// Imports with more lines than this read and parse on a second thread.
constexpr uint64_t kReadAheadAfterLines = 2048;

}  // namespace

namespace {

Result<ImportSummary> ImportLines(Database& db, std::istream& in, const ImportOptions& options,
                                  const ImportCallbacks& cb) {
  ImportSummary summary;
  ImportProgress progress;
  WriteBatch batch;
  std::vector<uint64_t> op_lines;
  // A batch's range starts right after the previous batch's, so that the bad
  // and blank lines read before its first operation are part of it.
  uint64_t batch_first_line = 1;

  // Errors wait for their batch's commit so that they come out in line order.
  std::vector<std::pair<uint64_t, std::string>> pending_errors;
  auto report = [&](uint64_t line, const std::string& reason) {
    ++summary.errors;
    ++progress.errors;
    pending_errors.emplace_back(line, reason);
  };
  auto emit_errors = [&]() {
    std::stable_sort(pending_errors.begin(), pending_errors.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [line, reason] : pending_errors) {
      if (cb.on_error)
        cb.on_error(options.source_name + ":" + std::to_string(line) + ": " + reason);
    }
    pending_errors.clear();
  };

  auto flush = [&](uint64_t last_line) -> Status {
    if (batch.empty()) {
      emit_errors();
      return Status::OK();
    }
    WriteOptions w = options.write_options;
    w.atomic = false;
    w.stop_at_first_error = options.on_error == OnError::kAbort;
    auto written = db.Write(batch, w);
    if (!written.ok()) {
      emit_errors();
      return written.status();
    }
    BatchResult result = std::move(written).value();
    uint64_t nodes = 0;
    bool stopped = false;  // kAbort: a failed operation ended this batch early
    for (size_t i = 0; i < result.results.size(); ++i) {
      const auto& r = result.results[i];
      if (!r.status.ok()) {
        report(op_lines[i], r.status.message());
        if (options.on_error == OnError::kAbort) summary.aborted = stopped = true;
        continue;
      }
      if (std::holds_alternative<WriteBatch::AddEdgeOp>(batch.ops()[i])) {
        ++summary.edges;
      } else {
        ++nodes;
      }
    }
    summary.nodes += nodes;
    progress.nodes_written = summary.nodes;
    ++summary.batches;
    if (cb.on_commit) {
      // Only an operation that failed here ends the range early; a bad line
      // that aborted the import is already excluded from `last_line`.
      const uint64_t committed_last = stopped ? op_lines[result.results.size() - 1] - 1 : last_line;
      cb.on_commit(batch_first_line, committed_last, nodes, result.last_change_seq);
    }
    batch_first_line = last_line + 1;
    batch.Clear();
    op_lines.clear();
    emit_errors();
    return Status::OK();
  };

  LineReader reader(in, options);
  ParsedLine parsed;
  uint64_t line_no = 0;
  while (!summary.aborted && reader.Next(&parsed)) {
    ++line_no;
    if (line_no == kReadAheadAfterLines) reader.StartReadAhead();
    progress.bytes_read += parsed.bytes;
    progress.lines = line_no;
    if (parsed.kind == ParsedLine::Kind::kBlank) continue;
    if (parsed.kind == ParsedLine::Kind::kTooLong) {
      report(line_no, "line is " + std::to_string(parsed.size) + " bytes, the limit is " +
                          std::to_string(options.max_line_bytes));
    } else if (parsed.kind == ParsedLine::Kind::kError) {
      report(line_no, parsed.error);
    } else {
      if (parsed.op.is_edge) {
        batch.AddEdge(std::move(parsed.op.edge));
      } else {
        batch.Create(std::move(parsed.op.node));
      }
      op_lines.push_back(line_no);
    }
    if (summary.errors > 0 && options.on_error == OnError::kAbort) {
      summary.aborted = true;
      NS_RETURN_IF_ERROR(flush(line_no - 1));
      break;
    }
    if (batch.size() >= options.batch_size) NS_RETURN_IF_ERROR(flush(line_no));
    if (cb.on_progress && line_no % 4096 == 0) cb.on_progress(progress);
  }
  reader.Stop();  // the stream is ours alone again
  if (!summary.aborted) NS_RETURN_IF_ERROR(flush(line_no));
  if (in.bad()) return Status::IOError("read error in " + options.source_name);
  summary.lines = line_no;
  progress.lines = line_no;
  if (cb.on_progress) cb.on_progress(progress);
  return summary;
}

}  // namespace

Result<ImportSummary> ImportJsonl(Database& db, std::istream& in, const ImportOptions& options,
                                  const ImportCallbacks& cb) {
  bool bulk = false;
  if (options.bulk_load) {
    Status begun = db.BeginBulkLoad();
    // Another process's bulk load covers these rows too: it rebuilds
    // everything when it finishes.
    if (!begun.ok() && begun.code() != StatusCode::kBusy) {
      return begun.WithContext("starting a bulk load");
    }
    bulk = begun.ok();
  }
  Result<ImportSummary> summary = ImportLines(db, in, options, cb);
  if (bulk) {
    // Also after a failed import: what it committed must become searchable.
    // If this fails too (disk full), the next open finishes it.
    Result<bool> finished = db.FinishBulkLoad();
    if (summary.ok() && !finished.ok()) {
      return finished.status().WithContext("building the indexes after the import");
    }
  }
  return summary;
}

}  // namespace nodespace::io
