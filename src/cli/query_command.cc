#include "cli/query_command.h"

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "io/query_result_json.h"

namespace nodespace::cli {

CLI::App* AddQueryCommand(CLI::App& app, QueryArgs& args) {
  auto* cmd = app.add_subcommand(
      "query", "run a query: text/vector ranking, filters, sort, facets (docs/API.md)");
  cmd->add_option("--json", args.json, "the query as JSON ('-': read it from stdin)");
  cmd->add_option("--text", args.text, "full-text query (BM25)");
  cmd->add_option("--semantic", args.semantic, "text to embed and rank by meaning");
  cmd->add_option("--vector", args.vector_json, "a query vector as a JSON array");
  cmd->add_option("--type", args.types, "only nodes of this type (repeatable: any of them)");
  cmd->add_option("--under", args.under, "only this node's subtree");
  cmd->add_option("--depth", args.depth, "with --under: at most this many levels below")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--where", args.where,
                  "FIELD OP VALUE, OP one of = != < <= > >= ~ (contains); repeatable, e.g. "
                  "'properties.task.status=done'");
  cmd->add_option("--sort", args.sort, "FIELD[:asc|:desc] (repeatable; default desc)");
  cmd->add_option("-n,--limit", args.limit, "hits per page")->check(CLI::Range(1, 1000000));
  cmd->add_option("--cursor", args.cursor, "continue from a previous page's next cursor");
  cmd->add_flag("--group", args.group_by_root, "one hit per tree root");
  cmd->add_flag("-a,--all", args.include_archived, "include archived and trashed nodes");
  cmd->add_option("--facet", args.facets, "FIELD[:N] value counts over all matches (repeatable)");
  cmd->add_option("--strategy", args.strategy, "auto, filter_first, vector_first or hybrid");
  cmd->add_flag("--explain", args.explain, "print the plan, its estimates and stage timings");
  cmd->add_flag("--no-cache", args.no_cache, "bypass the query cache");
  cmd->add_option("--output", args.output, "text or json")->check(CLI::IsMember({"text", "json"}));
  return cmd;
}

namespace {

// "12" -> integer, "1.5" -> real, "true"/"false"/"null", anything else text.
QueryValue ParseValue(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_null() && text == "null") return std::monostate{};
  return text;
}

Result<Filter> ParseWhere(const std::string& clause) {
  static const std::pair<const char*, Filter::Op> kOps[] = {
      {"!=", Filter::Op::kNe},     {"<=", Filter::Op::kLe}, {">=", Filter::Op::kGe},
      {"=", Filter::Op::kEq},      {"<", Filter::Op::kLt},  {">", Filter::Op::kGt},
      {"~", Filter::Op::kContains}};
  size_t best = std::string::npos;
  const char* op_text = nullptr;
  Filter::Op op = Filter::Op::kEq;
  for (const auto& [text, candidate] : kOps) {
    const size_t at = clause.find(text);
    if (at != std::string::npos && (best == std::string::npos || at < best)) {
      best = at;
      op_text = text;
      op = candidate;
    }
  }
  if (best == std::string::npos || best == 0) {
    return Status::InvalidArgument("--where '" + clause +
                                   "': expected FIELD OP VALUE (OP: = != < <= > >= ~)");
  }
  const std::string field = clause.substr(0, best);
  const std::string value = clause.substr(best + std::strlen(op_text));
  if (op == Filter::Op::kContains) return Filter::Compare(field, op, value);
  return Filter::Compare(field, op, ParseValue(value));
}

}  // namespace

Result<Query> QueryFromArgs(const QueryArgs& args, std::istream& in) {
  Query q;
  if (!args.json.empty()) {
    std::string text = args.json;
    if (text == "-") text.assign(std::istreambuf_iterator<char>(in), {});
    NS_ASSIGN_OR_RETURN(q, ParseQueryJson(text));
  }
  if (!args.text.empty()) q.text = args.text;
  if (!args.semantic.empty()) q.semantic = args.semantic;
  if (!args.vector_json.empty()) {
    auto v = nlohmann::json::parse(args.vector_json, nullptr, false);
    if (!v.is_array() || v.empty()) {
      return Status::InvalidArgument("--vector must be a non-empty JSON array of numbers");
    }
    q.vector.clear();
    for (const auto& x : v) {
      if (!x.is_number()) return Status::InvalidArgument("--vector holds a non-number");
      q.vector.push_back(x.get<float>());
    }
  }
  std::vector<Filter> extra;
  if (args.types.size() == 1) extra.push_back(Filter::Eq("type", args.types[0]));
  if (args.types.size() > 1) {
    std::vector<QueryValue> values(args.types.begin(), args.types.end());
    extra.push_back(Filter::In("type", values));
  }
  if (!args.under.empty()) extra.push_back(Filter::Under(args.under, args.depth));
  for (const std::string& w : args.where) {
    NS_ASSIGN_OR_RETURN(Filter f, ParseWhere(w));
    extra.push_back(std::move(f));
  }
  if (!extra.empty()) {
    if (q.filter.kind != Filter::Kind::kAnd) q.filter = Filter::And({q.filter});
    for (Filter& f : extra) q.filter.children.push_back(std::move(f));
  }
  for (const std::string& s : args.sort) {
    const size_t colon = s.rfind(':');
    SortKey key{s, true};
    if (colon != std::string::npos) {
      const std::string order = s.substr(colon + 1);
      if (order != "asc" && order != "desc") {
        return Status::InvalidArgument("--sort '" + s + "': order must be asc or desc");
      }
      key = {s.substr(0, colon), order == "desc"};
    }
    q.sort.push_back(key);
  }
  if (args.limit) q.limit = args.limit;
  if (!args.cursor.empty()) q.cursor = args.cursor;
  if (args.group_by_root) q.group_by_root = true;
  if (args.include_archived) q.include_archived = true;
  for (const std::string& f : args.facets) {
    const size_t colon = f.rfind(':');
    FacetRequest facet{f, 10};
    if (colon != std::string::npos) {
      try {
        facet = {f.substr(0, colon), std::stoul(f.substr(colon + 1))};
      } catch (const std::exception&) {
        return Status::InvalidArgument("--facet '" + f + "': expected FIELD[:N]");
      }
    }
    q.facets.push_back(facet);
  }
  if (!args.strategy.empty()) {
    std::optional<QueryStrategy> s = ParseQueryStrategy(args.strategy);
    if (!s) {
      return Status::InvalidArgument(
          "--strategy: expected auto, filter_first, vector_first or "
          "hybrid, got '" +
          args.strategy + "'");
    }
    q.strategy = *s;
  }
  if (args.explain) q.explain = true;
  if (args.no_cache) q.use_cache = false;
  return q;
}

int RunQueryCommand(Database& db, const QueryArgs& args, bool json, std::istream& in,
                    std::ostream& out, std::ostream& err) {
  auto query = QueryFromArgs(args, in);
  if (!query.ok()) {
    err << "error: " << query.status().message() << "\n";
    return query.status().IsInvalidArgument() ? kExitUsage : kExitError;
  }
  auto result = db.RunQuery(*query);
  if (!result.ok()) {
    err << "error: " << result.status().message() << "\n";
    return result.status().IsInvalidArgument() ? kExitUsage : kExitError;
  }
  if (json || args.output == "json") {
    out << io::QueryResultToJson(*result, query->explain).dump() << "\n";
    return kExitOk;
  }
  if (result->hits.empty()) out << "no matches\n";
  for (const QueryHit& h : result->hits) {
    const Node& n = h.node;
    std::string label = n.title.empty() ? n.content.substr(0, n.content.find('\n')) : n.title;
    if (label.size() > 80) label = label.substr(0, 77) + "...";
    out << h.score << "  " << n.id << "  [" << n.node_type << "]  " << label;
    if (h.text_rank) out << "  text#" << *h.text_rank;
    if (h.vector_rank) out << "  vector#" << *h.vector_rank;
    if (!h.matched_ids.empty()) out << "  (" << h.matched_ids.size() << " matched)";
    out << "\n";
  }
  if (result->total_matches >= 0) out << "matches: " << result->total_matches << "\n";
  for (const FacetResult& f : result->facets) {
    out << "facet " << f.field << ":";
    for (const FacetCount& c : f.values) out << "  " << c.value << " " << c.count;
    if (f.other_count) out << "  (other " << f.other_count << ")";
    out << "\n";
  }
  for (const AggregationResult& a : result->aggregations) {
    out << a.name << ":";
    if (a.value) out << " " << *a.value;
    for (const HistogramBucket& b : a.buckets) out << "  " << b.key << " " << b.count;
    out << "\n";
  }
  if (!result->next_cursor.empty()) out << "next: --cursor " << result->next_cursor << "\n";
  if (query->explain) out << result->explain.ToString();
  return kExitOk;
}

}  // namespace nodespace::cli
