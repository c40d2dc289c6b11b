// Server: cpp-httplib wiring, the request pipeline (request id, route,
// body limit, auth, rate limit, scope, handler, errors, metrics, access
// log) and graceful shutdown.
//
// Why cpp-httplib: it is the HTTP library Debian ships that the engine
// already uses (the vector service), it is small and synchronous, and with
// our own ConnectionPool (a thread per open connection, bounded) slow
// clients and long-lived change feeds cannot starve /livez. Boost.Beast
// would give asynchronous I/O at the cost of far more code; at the
// spec's 50+ users a few hundred mostly idle threads cost little. TLS is
// left to a reverse proxy (docs/API.md, "TLS").
#include "nodespace/server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>

#include "env/info_log.h"
#include "io/node_json.h"
#include "model/ids.h"
#include "scaling/operation_window.h"
#include "server/gzip.h"
#include "server/server_state.h"

namespace nodespace {

namespace server {

namespace {

// Request workers report too: the caller's callback gets one line at a time.
ServerOptions WithSerializedLog(ServerOptions options) {
  options.info_log = OneLineAtATime(std::move(options.info_log));
  return options;
}

}  // namespace

ServerState::ServerState(const ServerOptions& opts, std::unique_ptr<Database> database)
    : options(WithSerializedLog(opts)),
      db(opts.database_path, opts.database, std::move(database)),
      keys(opts.database_path + "/api-keys.json"),
      limiter(opts.rate_limit_per_second, opts.rate_limit_burst),
      notifier(
          [this] {
            auto lease = db.Acquire();
            return lease.valid() ? lease->LastChangeSeq() : int64_t{0};
          },
          100),
      writes(db, opts.group_commit_max_operations,
             [this](int64_t seq, size_t operations, double seconds) {
               metrics.ObserveGroupCommit(operations, seconds);
               notifier.Publish(seq);
             }) {
  namespace fs = std::filesystem;
  if (!opts.backup_dir.empty()) {
    backup_dir = opts.backup_dir;
  } else {
    fs::path p = fs::absolute(opts.database_path).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    backup_dir = (p.parent_path() / (p.filename().string() + "-backups")).string();
  }
  spool_dir = opts.database_path + "/spool";
}

DatabaseHolder::Lease ServerState::Db() const {
  auto lease = db.Acquire();
  if (!lease.valid()) throw ApiError::Unavailable("the database is not open (a restore failed?)");
  return lease;
}

void RequireInScope(const Call& call, Database& db, const std::string& node_id) {
  if (!call.principal.scoped()) return;
  const auto& scopes = call.principal.scopes;
  if (std::find(scopes.begin(), scopes.end(), node_id) != scopes.end()) return;
  auto ancestors = db.Ancestors(node_id);
  if (!ancestors.ok()) throw ErrorFromStatus(ancestors.status());
  for (const Node& a : *ancestors) {
    if (std::find(scopes.begin(), scopes.end(), a.id) != scopes.end()) return;
  }
  throw ApiError::Forbidden("node '" + node_id + "' is outside this key's scope");
}

Filter ScopeFilter(const Principal& principal) {
  std::vector<Filter> any;
  for (const std::string& id : principal.scopes) any.push_back(Filter::Under(id));
  return Filter::Or(std::move(any));
}

int64_t IfMatchVersion(const Call& call) {
  std::string v = call.req.get_header_value("If-Match");
  if (v.empty() || v == "*") return kAnyVersion;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  try {
    size_t used = 0;
    const int64_t version = std::stoll(v, &used);
    if (used == v.size() && version >= 1) return version;
  } catch (...) {
  }
  throw ApiError::BadRequest("If-Match: expected a node version such as \"3\"");
}

CoalescedResult SubmitWrite(ServerState& state, Call& call, WriteBatch::Op op) {
  CoalescedResult r = state.writes.Submit(std::move(op), call.origin);
  if (!r.status.ok()) throw ErrorFromStatus(r.status);
  return r;
}

nlohmann::json NodeJson(const Node& node, const Call& call) {
  return io::NodeToJson(node, call.Query("embeddings") == "true");
}

std::vector<Route> BuildRoutes(ServerState& state) {
  std::vector<Route> routes;
  AddNodeRoutes(state, &routes);
  AddQueryRoutes(state, &routes);
  AddFeedRoutes(state, &routes);
  AddAdminRoutes(state, &routes);
  AddOpsRoutes(state, &routes);
  AddWebRoutes(state, &routes);
  FinishRoutes(&routes);
  return routes;
}

namespace {

// What the pipeline knows about the request on this thread. cpp-httplib
// serves a request start to finish on one thread (pre-routing, handler,
// response, logger), so a thread_local carries it between the stages.
struct RequestContext {
  const Route* route = nullptr;
  std::vector<std::string> params;
  Principal principal;
  std::string request_id;
  std::string trace_id;
  std::string client;  // rate-limit and concurrent-user identity
  bool accepts_gzip = false;
  std::chrono::steady_clock::time_point start;
};
thread_local RequestContext tl_request;

std::string RandomHex(size_t bytes) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* digits = "0123456789abcdef";
  std::string out;
  while (out.size() < bytes * 2) {
    uint64_t v = rng();
    for (int i = 0; i < 16 && out.size() < bytes * 2; ++i, v >>= 4) out += digits[v & 15];
  }
  return out;
}

bool IsHex(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// cpp-httplib's compiled library listens with a backlog of 5: a burst of
// new connections (hundreds of clients starting at once) overflows the
// accept queue and each dropped SYN costs its client a 1 s retransmit.
// listen() again on the bound socket raises the backlog; the socket is
// found by its port since the library does not expose it.
void RaiseListenBacklog(int port) {
  for (int fd = 3; fd < 65536; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
      if (errno == EBADF && fd > 1024) break;
      continue;
    }
    if (!listening) continue;
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
}

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.http_status;
  res.set_content(e.ToJson(tl_request.request_id).dump(), "application/json");
}

}  // namespace
}  // namespace server

using namespace server;

class Server::Impl {
 public:
  Impl(const ServerOptions& options, std::unique_ptr<Database> db)
      : state_(options, std::move(db)), routes_(BuildRoutes(state_)) {}

  Status Listen();
  void Shutdown();
  void Wait();
  int port() const { return port_; }
  const ServerOptions& options() const { return state_.options; }

 private:
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  void Dispatch(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader* reader);
  void LogRequest(const httplib::Request& req, const httplib::Response& res);
  // Gzips a large text or JSON body when the client accepts it (gzip.h).
  void CompressBody(httplib::Response& res) const;
  void Info(const std::string& line) {
    if (state_.options.info_log) {
      state_.options.info_log(line);
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  bool KeysRequired() { return state_.options.require_keys || state_.keys.AnyActive(); }

  ServerState state_;
  std::vector<Route> routes_;
  httplib::Server http_;
  std::thread listener_;
  int port_ = 0;
  std::FILE* access_log_ = nullptr;
  bool own_access_log_ = false;
  std::mutex log_mu_;
  std::once_flag shutdown_once_;
  std::mutex stopped_mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;  // guarded by stopped_mu_: the listener returned
};

Status Server::Impl::Listen() {
  const ServerOptions& o = state_.options;
  const bool keys = KeysRequired();
  if (!keys && !IsLoopback(o.host)) {
    return Status::InvalidArgument(
        "refusing to listen on '" + o.host +
        "' without API keys: create one with `nodespace keys create --role admin`, or listen on "
        "127.0.0.1");
  }
  if (o.access_log_enabled) {
    if (o.access_log.empty()) {
      access_log_ = stderr;
    } else if (o.access_log == "-") {
      access_log_ = stdout;
    } else {
      access_log_ = std::fopen(o.access_log.c_str(), "a");
      if (access_log_ == nullptr) return Status::IOError("cannot open access log " + o.access_log);
      own_access_log_ = true;
    }
  }

  const size_t max_connections = o.max_connections;
  http_.new_task_queue = [this, max_connections] {
    auto* pool = new ConnectionPool(max_connections);
    state_.pool = pool;
    return pool;
  };
  // Responses go out as header and body writes: without TCP_NODELAY,
  // Nagle's algorithm holds the second until the client's delayed ACK, 40 ms
  // on Linux, on every keep-alive request.
  http_.set_tcp_nodelay(true);
  http_.set_read_timeout(o.read_timeout_s, 0);
  http_.set_write_timeout(o.read_timeout_s, 0);
  http_.set_keep_alive_timeout(o.idle_keep_alive_s);
  http_.set_keep_alive_max_count(1000);
  // Bodies are bounded per route in PreRoute (before they are read); this
  // is the outer bound for the streamed import.
  http_.set_payload_max_length(o.max_import_bytes);
  http_.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
  http_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError e{res.status, res.status == 413 ? "payload_too_large" : "bad_request",
               res.status == 413 ? "the body is larger than this server accepts"
                                 : "the request could not be read as HTTP"};
    SendError(res, e);
  });
  http_.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { LogRequest(req, res); });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res, nullptr);
  };
  http_.Get(".*", dispatch);
  http_.Put(".*", dispatch);
  http_.Patch(".*", dispatch);
  http_.Delete(".*", dispatch);
  http_.Post(".*", dispatch);
  for (const Route& r : routes_) {
    if (!r.large_body) continue;
    http_.Post(r.path,
               [this](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) { Dispatch(req, res, &reader); });
  }

  if (o.port == 0) {
    port_ = http_.bind_to_any_port(o.host);
  } else {
    port_ = http_.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (port_ < 0) {
    return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                           " (in use, or not an address of this machine)");
  }
  RaiseListenBacklog(port_);
  listener_ = std::thread([this] {
    http_.listen_after_bind();
    std::lock_guard lock(stopped_mu_);
    stopped_ = true;
    stopped_cv_.notify_all();
  });
  Info("nodespace serve: listening on http://" + o.host + ":" + std::to_string(port_) +
       " (database " + o.database_path + ")");
  if (!keys) {
    Info(
        "nodespace serve: no API keys configured, so listening on loopback only and every "
        "request acts as admin; `nodespace keys create` adds keys");
  }
  return Status::OK();
}

httplib::Server::HandlerResponse Server::Impl::PreRoute(const httplib::Request& req,
                                                        httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  RequestContext& ctx = tl_request;
  ctx = RequestContext();
  ctx.start = std::chrono::steady_clock::now();
  ctx.request_id = RandomHex(8);
  // W3C trace context: keep the caller's trace id, we are a new span.
  const std::string traceparent = req.get_header_value("traceparent");
  if (traceparent.size() == 55 && IsHex(traceparent.substr(3, 32), 32)) {
    ctx.trace_id = traceparent.substr(3, 32);
  } else {
    ctx.trace_id = RandomHex(16);
  }
  res.set_header("X-Request-Id", ctx.request_id);
  res.set_header("traceparent", "00-" + ctx.trace_id + "-" + ctx.request_id + "-01");
  // The library would answer an offer of `br` with Brotli at quality 11
  // (gzip.h); the request is ours to change until the handler runs (the
  // library owns it as a mutable object), so the offer is taken away and
  // Dispatch gzips large bodies itself.
  if (req.has_header("Accept-Encoding")) {
    ctx.accepts_gzip = AcceptsGzip(req.get_header_value("Accept-Encoding"));
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  }

  auto fail = [&](const ApiError& e) {
    SendError(res, e);
    return HR::Handled;
  };
  if (state_.draining) return fail(ApiError::Unavailable("the server is shutting down"));

  bool path_known = false;
  ctx.route = MatchRoute(routes_, req.method, req.path, &path_known, &ctx.params);
  if (ctx.route == nullptr) {
    if (path_known)
      return fail({405, "method_not_allowed", req.method + " is not allowed on " + req.path});
    return fail(ApiError::NotFound("no route " + req.method + " " + req.path));
  }
  const Route& route = *ctx.route;

  // Body limit, before the body is read.
  const size_t limit =
      route.large_body ? state_.options.max_import_bytes : state_.options.max_body_bytes;
  if (req.has_header("Content-Length")) {
    const std::string cl = req.get_header_value("Content-Length");
    uint64_t length = 0;
    try {
      length = std::stoull(cl);
    } catch (...) {
      return fail(ApiError::BadRequest("Content-Length: not a number"));
    }
    if (length > limit) {
      return fail(ApiError::PayloadTooLarge("the body is " + std::to_string(length) +
                                            " bytes; this route accepts " + std::to_string(limit)));
    }
  } else if (!route.large_body && req.get_header_value("Transfer-Encoding") == "chunked") {
    return fail({411, "length_required", "send a Content-Length with the body"});
  }

  // Who is calling: the key, or without keys the address (and the client's
  // own id, so two editors on one machine count as two users).
  ctx.client = "addr:";
  ctx.client.append(req.remote_addr);
  if (const std::string id = req.get_header_value("X-Client-Id"); !id.empty()) {
    ctx.client.push_back('/');
    ctx.client.append(id, 0, 64);
  }
  if (!route.public_route) {
    if (KeysRequired()) {
      std::string key = req.get_header_value("X-API-Key");
      const std::string auth = req.get_header_value("Authorization");
      if (key.empty() && auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
      if (key.empty()) {
        res.set_header("WWW-Authenticate", "Bearer");
        return fail(ApiError::Unauthorized("an API key is required (Authorization: Bearer <key>)"));
      }
      auto principal = state_.keys.Verify(key);
      if (!principal.ok()) {
        res.set_header("WWW-Authenticate", "Bearer");
        return fail(ApiError::Unauthorized("the API key is not valid (unknown or revoked)"));
      }
      ctx.principal = std::move(*principal);
      ctx.client = "key:" + ctx.principal.key_id;
    }
    if (ctx.principal.role < route.role) {
      return fail(ApiError::Forbidden(std::string("this route needs a ") + RoleName(route.role) +
                                      " key; this one is " + RoleName(ctx.principal.role)));
    }
    if (route.scope == ScopeRule::kUnscoped && ctx.principal.scoped()) {
      return fail(ApiError::Forbidden("a key scoped to subtrees cannot use " + route.path));
    }
    int64_t retry_after_ms = 0;
    if (!state_.limiter.Allow(ctx.client, ids::NowMs(), &retry_after_ms)) {
      res.set_header("Retry-After", std::to_string((retry_after_ms + 999) / 1000));
      return fail(ApiError::RateLimited("too many requests from this key; retry in " +
                                        std::to_string(retry_after_ms) + " ms"));
    }
  }
  return HR::Unhandled;
}

void Server::Impl::Dispatch(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader* reader) {
  RequestContext& ctx = tl_request;
  if (ctx.route == nullptr) {
    SendError(res, ApiError::NotFound("no route " + req.method + " " + req.path));
    return;
  }
  std::string origin = req.get_header_value("X-Client-Id");
  if (origin.size() > 128) origin.resize(128);
  if (origin.empty())
    origin = ctx.principal.key_id.empty() ? "http" : "key:" + ctx.principal.key_id;
  Call call{req, res, ctx.principal, ctx.request_id, std::move(origin), reader, ctx.params};
  scaling::ClientScope client(ctx.client);
  try {
    if (ctx.route->scope == ScopeRule::kPathNode && ctx.principal.scoped()) {
      RequireInScope(call, *state_.Db(), call.param(1));
    }
    Reply reply = ctx.route->handler(call);
    if (!reply.streamed) {  // else the handler filled `res` itself
      res.status = reply.status;
      if (!reply.etag.empty()) res.set_header("ETag", "\"" + reply.etag + "\"");
      if (!reply.body.is_null()) res.set_content(reply.body.dump(), "application/json");
    }
  } catch (const ApiError& e) {
    if (e.internal) Info("request " + ctx.request_id + ": " + e.message);
    SendError(res, e);
  } catch (const nlohmann::json::exception& e) {
    SendError(res, ApiError::BadRequest(std::string("malformed request: ") + e.what()));
  } catch (const std::exception& e) {
    Info("request " + ctx.request_id + ": unexpected " + e.what());
    ApiError err{500, "internal", e.what()};
    err.internal = true;
    SendError(res, err);
  }
  CompressBody(res);
}

void Server::Impl::CompressBody(httplib::Response& res) const {
  const std::string type = res.get_header_value("Content-Type");
  if (!IsCompressibleType(type)) return;
  res.set_header("Vary", "Accept-Encoding");
  // Streams (export, feeds) have no body here and go as they are.
  if (!tl_request.accepts_gzip || res.body.size() < kCompressAtBytes ||
      res.has_header("Content-Encoding")) {
    return;
  }
  // Level 1: a few ms for a 300 KB script, about a third of the bytes.
  std::optional<std::string> packed = Gzip(res.body, 1);
  if (!packed || packed->size() >= res.body.size()) return;
  res.body = std::move(*packed);
  res.set_header("Content-Encoding", "gzip");
}

void Server::Impl::LogRequest(const httplib::Request& req, const httplib::Response& res) {
  RequestContext& ctx = tl_request;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.start).count();
  const std::string route = ctx.route != nullptr ? ctx.route->path : "unmatched";
  state_.metrics.ObserveRequest(route, req.method, res.status, seconds);
  if (access_log_ == nullptr) return;
  nlohmann::json line = {{"ts", ids::FormatTimestamp(ids::NowMs())},
                         {"request_id", ctx.request_id},
                         {"trace_id", ctx.trace_id},
                         {"remote", req.remote_addr},
                         {"method", req.method},
                         {"path", req.path},
                         {"route", route},
                         {"status", res.status},
                         {"ms", seconds * 1000},
                         {"bytes", res.body.size()},
                         {"key", ctx.principal.key_id}};
  const std::string text = line.dump() + "\n";
  std::lock_guard lock(log_mu_);
  std::fputs(text.c_str(), access_log_);
  std::fflush(access_log_);
}

void Server::Impl::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    Info("nodespace serve: shutting down: draining requests");
    state_.draining = true;
    state_.notifier.Stop();  // change feeds say goodbye and end
    http_.stop();
    if (listener_.joinable()) listener_.join();
    state_.tasks.WaitAll();
    state_.writes.Stop();
    state_.db.Close();
    if (own_access_log_) std::fclose(access_log_);
    access_log_ = nullptr;
    Info("nodespace serve: stopped");
  });
}

void Server::Impl::Wait() {
  std::unique_lock lock(stopped_mu_);
  stopped_cv_.wait(lock, [&] { return stopped_; });
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& given) {
  ServerOptions options = given;
  QueryLimits& limits = options.database.query_limits;
  if (limits.max_query_ms == 0 && options.query_timeout_ms > 0) {
    limits.max_query_ms = options.query_timeout_ms;
  }
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                      Database::Open(options.database_path, options.database));
  auto impl = std::make_unique<Impl>(options, std::move(db));
  NS_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  impl_->Shutdown();
}
int Server::port() const {
  return impl_->port();
}
std::string Server::url() const {
  return "http://" + impl_->options().host + ":" + std::to_string(impl_->port());
}
void Server::Shutdown() {
  impl_->Shutdown();
}
void Server::Wait() {
  impl_->Wait();
}

}  // namespace nodespace
