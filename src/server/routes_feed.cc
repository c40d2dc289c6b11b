// Live updates: the change feed and live queries, as Server-Sent Events.
//
// A stream reads the change log itself from its own position, so resuming
// (Last-Event-ID, ?after=) and catching up after a slow spell are the same
// code path, and a slow client costs only its own thread. Streams wake on
// ChangeNotifier; while idle they send a comment every 15 s so proxies
// keep the connection open.
#include <chrono>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "io/node_json.h"
#include "io/query_result_json.h"
#include "server/server_state.h"

namespace nodespace::server {
namespace {

constexpr auto kHeartbeat = std::chrono::seconds(15);

std::string SseEvent(int64_t id, const char* event, const nlohmann::json& data) {
  std::string out;
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  out += "event: ";
  out += event;
  out += "\ndata: " + data.dump() + "\n\n";
  return out;
}

bool Write(httplib::DataSink& sink, const std::string& text) {
  return sink.is_writable() && sink.write(text.data(), text.size());
}

// Which changes a feed passes on.
struct FeedFilter {
  std::vector<std::string> subtree_any;  // the ?subtree= roots (any of)
  std::vector<std::string> scopes;       // the key's scopes (any of)
  std::string node_type;
  std::string exclude_origin;  // an editor's own client id: skip its echoes
  // ?query=: only changes to nodes the query's filters match (a delete
  // passes when the stream passed an earlier change of that node).
  std::optional<Query> query;
};

class FeedStream {
 public:
  FeedStream(ServerState& state, FeedFilter filter, int64_t after)
      : state_(state), filter_(std::move(filter)), position_(after) {}

  // Writes every change past the position that passes the filter; false
  // when the client is gone.
  bool Pump(httplib::DataSink& sink) {
    for (;;) {
      std::vector<Change> changes;
      {
        auto db = state_.db.Acquire();
        if (!db.valid()) return true;
        auto read = db->ChangesSince(position_, 500);
        if (!read.ok())
          return Write(sink, SseEvent(0, "error", {{"message", read.status().message()}}));
        changes = std::move(*read);
        if (changes.empty()) {
          // A restore can move the log back behind us.
          const int64_t last = db->LastChangeSeq();
          if (last < position_) {
            position_ = last;
            return Write(sink, SseEvent(last, "reset", {{"seq", last}}));
          }
          return true;
        }
        const std::set<std::string> matching = QueryMatches(*db, changes);
        std::string out;
        for (const Change& c : changes) {
          position_ = c.seq;
          if (!Passes(*db, c, matching)) continue;
          out += SseEvent(c.seq, "change", ChangeJson(c));
        }
        if (!out.empty()) {
          if (!Write(sink, out)) return false;
          state_.metrics.ObserveFeedNotification(state_.notifier.SecondsSincePublish());
        }
      }
      if (changes.size() < 500) return true;
    }
  }
  int64_t position() const { return position_; }

 private:
  static nlohmann::json ChangeJson(const Change& c) {
    nlohmann::json payload = nlohmann::json::parse(c.payload, nullptr, false);
    if (payload.is_discarded()) payload = nlohmann::json::object();
    payload.erase("row");  // storage detail
    return {{"seq", c.seq},         {"op", ChangeOpName(c.op)}, {"node_id", c.node_id},
            {"version", c.version}, {"origin", c.origin},       {"timestamp", c.timestamp},
            {"payload", payload}};
  }

  // Is `id` (a live node) inside one of `roots`?
  bool LiveInAny(Database& db, const std::string& id, const std::vector<std::string>& roots) {
    if (std::find(roots.begin(), roots.end(), id) != roots.end()) return true;
    auto ancestors = db.Ancestors(id);
    if (!ancestors.ok()) return false;
    for (const Node& a : *ancestors) {
      if (std::find(roots.begin(), roots.end(), a.id) != roots.end()) return true;
    }
    return false;
  }

  bool InAny(Database& db, const Change& c, const nlohmann::json& payload,
             const std::vector<std::string>& roots,
             std::unordered_map<std::string, bool>* deleted) {
    if (roots.empty()) return true;
    if (c.op != ChangeOp::kDelete) return LiveInAny(db, c.node_id, roots);
    // A deleted node: its parent was deleted just before it (the log lists
    // a subtree parents first), or is alive when it is the subtree's root.
    bool in = std::find(roots.begin(), roots.end(), c.node_id) != roots.end();
    const std::string parent = payload.value("parent_id", "");
    if (!in && !parent.empty()) {
      auto it = deleted->find(parent);
      in = it != deleted->end() ? it->second : LiveInAny(db, parent, roots);
    }
    if (deleted->size() > 100000) deleted->clear();
    (*deleted)[c.node_id] = in;
    return in;
  }

  // The changed (live) nodes of `changes` that the feed's query matches.
  std::set<std::string> QueryMatches(Database& db, const std::vector<Change>& changes) {
    std::set<std::string> out;
    if (!filter_.query) return out;
    std::vector<QueryValue> ids;
    std::set<std::string> seen;
    for (const Change& c : changes) {
      if (c.op != ChangeOp::kDelete && seen.insert(c.node_id).second) ids.push_back(c.node_id);
    }
    for (size_t at = 0; at < ids.size(); at += 1000) {  // QueryLimits::max_in_values
      Query q = *filter_.query;
      const size_t n = std::min<size_t>(1000, ids.size() - at);
      q.filter =
          Filter::And({q.filter, Filter::In("id", {ids.begin() + at, ids.begin() + at + n})});
      q.limit = n;
      q.cursor.clear();
      q.facets.clear();
      q.aggregations.clear();
      auto result = db.RunQuery(q);
      if (!result.ok()) continue;
      for (const QueryHit& hit : result->hits) out.insert(hit.node.id);
    }
    return out;
  }

  bool Passes(Database& db, const Change& c, const std::set<std::string>& matching) {
    if (!filter_.exclude_origin.empty() && c.origin == filter_.exclude_origin) return false;
    if (filter_.query) {
      if (c.op == ChangeOp::kDelete) {
        if (!passed_.erase(c.node_id)) return false;
      } else if (matching.count(c.node_id)) {
        if (passed_.size() < 1000000) passed_.insert(c.node_id);
      } else {
        return false;
      }
    }
    nlohmann::json payload = nlohmann::json::parse(c.payload, nullptr, false);
    if (payload.is_discarded()) payload = nlohmann::json::object();
    if (!InAny(db, c, payload, filter_.scopes, &deleted_in_scope_)) return false;
    if (!InAny(db, c, payload, filter_.subtree_any, &deleted_in_subtree_)) return false;
    if (!filter_.node_type.empty()) {
      std::string type;
      if (c.op == ChangeOp::kDelete) {
        type = payload.value("node_type", "");
      } else {
        auto node = db.Get(c.node_id);
        if (node.ok()) type = node->node_type;
      }
      if (type != filter_.node_type) return false;
    }
    return true;
  }

  ServerState& state_;
  const FeedFilter filter_;
  int64_t position_;
  std::unordered_map<std::string, bool> deleted_in_scope_;
  std::unordered_map<std::string, bool> deleted_in_subtree_;
  std::unordered_set<std::string> passed_;  // nodes the query matched before
};

// A live query's current answer: id -> version.
using Answer = std::map<std::string, int64_t>;

struct LiveQuery {
  Query query;
  Answer answer;
  int64_t seq = -1;
};

// Reruns the query when the log moved; writes the difference.
bool PumpLive(ServerState& state, LiveQuery& live, const Call& call, httplib::DataSink& sink,
              bool first) {
  auto db = state.db.Acquire();
  if (!db.valid()) return true;
  const int64_t seq = db->LastChangeSeq();
  if (!first && seq == live.seq) return true;
  auto result = db->RunQuery(live.query);
  if (!result.ok())
    return Write(sink, SseEvent(0, "error", {{"message", result.status().message()}}));
  Answer now;
  nlohmann::json added = nlohmann::json::array(), changed = nlohmann::json::array(),
                 removed = nlohmann::json::array();
  for (const QueryHit& hit : result->hits) {
    now[hit.node.id] = hit.node.version;
    auto it = live.answer.find(hit.node.id);
    if (it == live.answer.end()) {
      added.push_back(NodeJson(hit.node, call));
    } else if (it->second != hit.node.version) {
      changed.push_back(NodeJson(hit.node, call));
    }
  }
  for (const auto& [id, version] : live.answer) {
    if (!now.count(id)) removed.push_back(id);
  }
  live.seq = seq;
  live.answer = std::move(now);
  if (first) {
    return Write(sink, SseEvent(seq, "snapshot",
                                {{"seq", seq}, {"result", io::QueryResultToJson(*result, false)}}));
  }
  if (added.empty() && changed.empty() && removed.empty()) return true;
  if (!Write(
          sink,
          SseEvent(seq, "update",
                   {{"seq", seq}, {"added", added}, {"changed", changed}, {"removed", removed}}))) {
    return false;
  }
  state.metrics.ObserveFeedNotification(state.notifier.SecondsSincePublish());
  return true;
}

void StartStream(ServerState& state, Call& call,
                 std::function<bool(httplib::DataSink&, bool first)> pump) {
  call.res.set_header("Cache-Control", "no-store");
  call.res.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  ServerState* s = &state;
  call.res.set_chunked_content_provider(
      "text/event-stream",
      [s, pump = std::move(pump), first = true, seen = s->notifier.last_seq()](
          size_t, httplib::DataSink& sink) mutable {
        if (first) {
          s->metrics.open_feeds().Increment();
          if (!Write(sink, ": nodespace change feed\nretry: 1000\n\n") || !pump(sink, true)) {
            return false;
          }
          first = false;
        }
        // One wait per call: the provider is called again while it returns true.
        const int64_t now = s->notifier.WaitAfter(seen, kHeartbeat);
        if (s->notifier.stopped() || s->draining) {
          Write(sink, SseEvent(0, "shutdown", {{"message", "the server is stopping; reconnect"}}));
          sink.done();
          return true;
        }
        if (now == seen) return Write(sink, ": keep-alive\n\n");
        seen = now;
        return pump(sink, false);
      },
      [s](bool) { s->metrics.open_feeds().Decrement(); });
}

std::vector<std::string> SplitIds(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

void AddFeedRoutes(ServerState& state, std::vector<Route>* routes) {
  ServerState* s = &state;

  AddRoute(routes, "GET", "/v1/changes", Role::kRead, ScopeRule::kHandler,
           "Server-Sent Events change feed: ?after=<seq> or Last-Event-ID, ?subtree=<id>[,<id>], "
           "?type=<node_type>, ?query=<query JSON> (its filters), ?exclude_origin=<client id>",
           [s](Call& call) {
             int64_t after = call.QueryInt("after", -1, 0, INT64_MAX);
             const std::string last_id = call.req.get_header_value("Last-Event-ID");
             if (!last_id.empty()) {
               try {
                 after = std::stoll(last_id);
               } catch (...) {
                 throw ApiError::BadRequest("Last-Event-ID: expected a change sequence number");
               }
             }
             FeedFilter filter;
             filter.subtree_any = SplitIds(call.Query("subtree"));
             filter.scopes = call.principal.scopes;
             filter.node_type = call.Query("type");
             filter.exclude_origin = call.Query("exclude_origin");
             if (const std::string q = call.Query("query"); !q.empty()) {
               filter.query = ScopedQuery(*s, call, q);
               if (filter.query->ranked()) {
                 throw ApiError::BadRequest(
                     "query: a change feed filters by the query's filters; leave out text, vector "
                     "and semantic");
               }
             }
             {
               auto db = s->Db();
               for (const std::string& id : filter.subtree_any) RequireInScope(call, *db, id);
               if (after < 0) after = db->LastChangeSeq();  // only what comes next
             }
             auto stream = std::make_shared<FeedStream>(*s, std::move(filter), after);
             StartStream(*s, call,
                         [stream](httplib::DataSink& sink, bool) { return stream->Pump(sink); });
             return Reply::Streamed();
           });

  AddRoute(routes, "GET", "/v1/live", Role::kRead, ScopeRule::kHandler,
           "A live query as Server-Sent Events: ?q=<query JSON>, or ?node=<id> of a query "
           "node (its properties.query); a snapshot, then {added, changed, removed} whenever "
           "a write changes the answer",
           [s](Call& call) {
             std::string q = call.Query("q");
             if (const std::string node_id = call.Query("node"); !node_id.empty()) {
               if (!q.empty()) throw ApiError::BadRequest("give q or node, not both");
               auto db = s->Db();
               RequireInScope(call, *db, node_id);
               const Node node = Value(db->Get(node_id));
               const nlohmann::json props = nlohmann::json::parse(node.properties, nullptr, false);
               if (!props.is_object() || !props.contains("query") || !props["query"].is_object()) {
                 throw ApiError{422, "not_a_query_node",
                                "node '" + node_id + "' has no properties.query object"};
               }
               q = props["query"].dump();
             }
             if (q.empty()) throw ApiError::BadRequest("q: the query JSON (or node) is required");
             auto live = std::make_shared<LiveQuery>();
             live->query = ScopedQuery(*s, call, q);
             live->query.cursor.clear();
             auto principal = std::make_shared<Principal>(call.principal);
             auto request_id = std::make_shared<std::string>(call.request_id);
             const httplib::Request* req = &call.req;
             httplib::Response* res = &call.res;
             StartStream(
                 *s, call,
                 [s, live, principal, request_id, req, res](httplib::DataSink& sink, bool first) {
                   Call c{*req, *res, *principal, *request_id, "", nullptr, {}};
                   return PumpLive(*s, *live, c, sink, first);
                 });
             return Reply::Streamed();
           });
}

}  // namespace nodespace::server
