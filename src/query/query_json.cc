// Query JSON (docs/API.md, "Query JSON"): parsing, canonical printing and the
// checks both the JSON and the C++ forms of a query pass.
//
// Every error is InvalidArgument and starts with the JSON path of what is
// wrong ("filters[2].op: unknown operator 'lt='"). Queries built in C++ are
// named as their JSON would be: the children of a root AND are "filters[i]".
//
// Parsing runs in two steps: JSON text -> Query (shape and JSON types only),
// then the semantic checks of ValidateQuery on the Query. Keeping every
// semantic rule in the second step is what makes C++ and JSON queries fail
// alike.

#include "query/query_json.h"

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/content.h"
#include "model/ids.h"

namespace nodespace {
namespace {

// Ordered so that errors about keys come in the order the caller wrote them.
using Json = nlohmann::ordered_json;

constexpr std::string_view kPropertiesPrefix = "properties.";
constexpr size_t kShownBytes = 64;  // longest user text quoted in an error

// ---- messages and paths --------------------------------------------------------

Status Error(const std::string& path, const std::string& message) {
  return Status::InvalidArgument(path.empty() ? message : path + ": " + message);
}

// User text inside a message: cut (on a character boundary) so one hostile
// value cannot make a megabyte-long error.
std::string Shown(std::string_view text, size_t max_bytes = kShownBytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string Quoted(std::string_view text) {
  std::string out = "'";
  out.append(Shown(text)).push_back('\'');
  return out;
}

void AppendJsonString(std::string* out, std::string_view s);

// Keys of the schema are plain words; any other key is shown as a JSON string
// so the path stays unambiguous.
std::string PathKey(std::string_view key) {
  bool plain = !key.empty() && key.size() <= kShownBytes;
  for (char c : key) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    if (!word) plain = false;
  }
  if (plain) return std::string(key);
  std::string quoted;
  AppendJsonString(&quoted, Shown(key));
  return quoted;
}

std::string KeyPath(const std::string& path, std::string_view key) {
  return path.empty() ? PathKey(key) : path + "." + PathKey(key);
}

std::string IndexPath(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

const char* JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

// The same names for QueryValue, so C++ and JSON errors read alike.
const char* ValueTypeName(const QueryValue& v) {
  switch (v.index()) {
    case 0:
      return "null";
    case 1:
      return "boolean";
    case 2:
      return "integer";
    case 3:
      return "number";
    default:
      return "string";
  }
}

Status Expected(const std::string& path, const std::string& what, const Json& j) {
  return Error(path, "expected " + what + ", got " + JsonTypeName(j));
}

// ---- JSON text -> DOM ----------------------------------------------------------
//
// nlohmann's SAX parser is iterative, so a hostile document cannot exhaust the
// stack while it is read; this handler builds the DOM itself to bound its
// depth (the later walks over it recurse), to reject duplicate keys (which
// nlohmann would silently resolve to the last one, making two texts with
// different meanings look equal) and to name the path of either problem.

class DomBuilder {
 public:
  DomBuilder(Json* root, size_t max_depth, size_t filter_depth)
      : root_(root), max_depth_(max_depth), filter_depth_(filter_depth) {}

  const Status& status() const { return status_; }

  bool null() { return Add(Json(nullptr)); }
  bool boolean(bool v) { return Add(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Add(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Add(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string& /*text*/) { return Add(Json(v)); }
  bool string(std::string& v) { return Add(Json(std::move(v))); }
  bool binary(Json::binary_t& /*v*/) { return Add(Json(nullptr)); }  // not produced by JSON text

  bool start_object(size_t /*size*/) { return Open(Json::object()); }
  bool start_array(size_t /*size*/) { return Open(Json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(std::string& k) {
    Frame& top = stack_.back();
    top.key = k;
    if (!top.keys.insert(std::move(k)).second) {
      status_ = Error(SlotPath(), "duplicate key");
      return false;
    }
    return true;
  }

  bool parse_error(size_t position, const std::string& /*last_token*/, const Json::exception& ex) {
    // what(): "[json.exception.parse_error.101] parse error at line 1, column 5: <detail>"
    std::string_view what = ex.what();
    const size_t at = what.find("parse error");
    const size_t colon = at == std::string_view::npos ? at : what.find(": ", at);
    std::string_view detail = colon == std::string_view::npos ? what : what.substr(colon + 2);
    status_ = Status::InvalidArgument("invalid JSON at byte " + std::to_string(position) + ": " +
                                      Shown(detail, 4 * kShownBytes));
    return false;
  }

 private:
  struct Frame {
    Json* value;                 // the open array or object
    std::string key;             // object: the member being read
    std::set<std::string> keys;  // object: members so far
  };

  // The path of the next value to be read.
  std::string SlotPath() const {
    std::string path;
    for (size_t i = 0; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (f.value->is_array()) {
        // Below the top, the open child is the array's last element.
        const size_t n = f.value->size();
        path = IndexPath(path, i + 1 < stack_.size() ? n - 1 : n);
      } else {
        path = KeyPath(path, f.key);
      }
    }
    return path;
  }

  Json* Place(Json v) {
    if (stack_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    Json& parent = *stack_.back().value;
    if (parent.is_array()) {
      auto& items = parent.get_ref<Json::array_t&>();
      items.push_back(std::move(v));
      return &items.back();
    }
    // key() has ruled out duplicates, so append without ordered_map's
    // linear search for an existing key.
    auto& members = static_cast<Json::object_t::Container&>(parent.get_ref<Json::object_t&>());
    members.emplace_back(stack_.back().key, std::move(v));
    return &members.back().second;
  }

  bool Add(Json v) {
    Place(std::move(v));
    return true;
  }

  bool Open(Json v) {
    if (stack_.size() >= max_depth_) {
      status_ = Error(SlotPath(), "JSON nested deeper than " + std::to_string(max_depth_) +
                                      " levels (filters may nest " + std::to_string(filter_depth_) +
                                      " deep)");
      return false;
    }
    Json* placed = Place(std::move(v));
    stack_.push_back(Frame{placed, {}, {}});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  Json* root_;
  size_t max_depth_;
  size_t filter_depth_;
  std::vector<Frame> stack_;
  Status status_;
};

// ---- DOM -> Query: shapes and JSON types ---------------------------------------

Status ReadString(const Json& j, const std::string& path, std::string* out) {
  if (!j.is_string()) return Expected(path, "a string", j);
  *out = j.get<std::string>();
  return Status::OK();
}

Status ReadBool(const Json& j, const std::string& path, bool* out) {
  if (!j.is_boolean()) return Expected(path, "a boolean", j);
  *out = j.get<bool>();
  return Status::OK();
}

// Counts (limit, window, sizes). Range limits belong to the semantic checks;
// only what size_t cannot hold is refused here.
Status ReadSize(const Json& j, const std::string& path, size_t* out) {
  if (!j.is_number_integer()) return Expected(path, "an integer", j);
  if (!j.is_number_unsigned()) return Error(path, "must not be negative");
  *out = static_cast<size_t>(j.get<uint64_t>());
  return Status::OK();
}

Status ReadInt(const Json& j, const std::string& path, int* out) {
  if (!j.is_number_integer()) return Expected(path, "an integer", j);
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
      return Error(path, "out of range");
    }
    *out = static_cast<int>(v);
    return Status::OK();
  }
  const int64_t v = j.get<int64_t>();
  if (v < std::numeric_limits<int>::min()) return Error(path, "out of range");
  *out = static_cast<int>(v);
  return Status::OK();
}

Status ReadNumber(const Json& j, const std::string& path, double* out) {
  if (!j.is_number()) return Expected(path, "a number", j);
  *out = j.get<double>();
  return Status::OK();
}

Status ReadScalar(const Json& j, const std::string& path, QueryValue* out) {
  switch (j.type()) {
    case Json::value_t::null:
      *out = std::monostate{};
      return Status::OK();
    case Json::value_t::boolean:
      *out = j.get<bool>();
      return Status::OK();
    case Json::value_t::number_unsigned: {
      const uint64_t v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Error(path, "integer out of range (at most 2^63-1)");
      }
      *out = static_cast<int64_t>(v);
      return Status::OK();
    }
    case Json::value_t::number_integer:
      *out = j.get<int64_t>();
      return Status::OK();
    case Json::value_t::number_float:
      *out = j.get<double>();
      return Status::OK();
    case Json::value_t::string:
      *out = j.get<std::string>();
      return Status::OK();
    default:
      return Expected(path, "a string, number, boolean or null", j);
  }
}

// Narrowing a double beyond float's range is undefined behaviour in C++, so
// such values are mapped to infinity by hand (and then reported as not
// finite). The bound is halfway between FLT_MAX and 2^128: below it a double
// rounds to a finite float, which is how FLT_MAX's own printed form reads back.
float ToFloat(double d) {
  constexpr double kRoundsToInfinity = 0x1.ffffffp127;
  if (d >= kRoundsToInfinity) return std::numeric_limits<float>::infinity();
  if (d <= -kRoundsToInfinity) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

Status ReadCondition(const Json& j, const std::string& path, Filter* out);

Status ReadConditionList(const Json& j, const std::string& path, std::vector<Filter>* out) {
  if (!j.is_array()) return Expected(path, "an array of conditions", j);
  out->reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    Filter child;
    NS_RETURN_IF_ERROR(ReadCondition(j[i], IndexPath(path, i), &child));
    out->push_back(std::move(child));
  }
  return Status::OK();
}

constexpr const char* kConditionForms =
    "expected field/op/value, and, or, not, under, mentions, mentioned_by or collection";

std::optional<Filter::Kind> ConditionKindOfKey(const std::string& key) {
  if (key == "field" || key == "op" || key == "value") return Filter::Kind::kCompare;
  if (key == "and") return Filter::Kind::kAnd;
  if (key == "or") return Filter::Kind::kOr;
  if (key == "not") return Filter::Kind::kNot;
  if (key == "under" || key == "depth") return Filter::Kind::kUnder;
  if (key == "mentions") return Filter::Kind::kMentions;
  if (key == "mentioned_by") return Filter::Kind::kMentionedBy;
  if (key == "collection") return Filter::Kind::kCollection;
  return std::nullopt;
}

Status ReadCompare(const Json& j, const std::string& path, Filter* out) {
  out->kind = Filter::Kind::kCompare;
  const auto op_it = j.find("op");
  const std::string op_path = path + ".op";
  if (op_it == j.end()) {
    return Error(op_path,
                 "missing (one of =, !=, <, <=, >, >=, in, exists, contains, starts_with)");
  }
  std::string op_name;
  NS_RETURN_IF_ERROR(ReadString(*op_it, op_path, &op_name));
  std::optional<Filter::Op> op = ParseFilterOp(op_name);
  if (!op) {
    return Error(op_path, "unknown operator " + Quoted(op_name) +
                              " (expected =, !=, <, <=, >, >=, in, exists, contains or "
                              "starts_with)");
  }
  out->op = *op;
  if (const auto it = j.find("field"); it != j.end()) {
    NS_RETURN_IF_ERROR(ReadString(*it, path + ".field", &out->field));
  }
  const std::string value_path = path + ".value";
  const auto value_it = j.find("value");
  if (value_it == j.end()) {
    // exists defaults to true; elsewhere the missing value is reported by
    // the semantic check, which C++ queries pass too.
    if (*op == Filter::Op::kExists) out->values.emplace_back(true);
    return Status::OK();
  }
  const Json& value = *value_it;
  if (*op == Filter::Op::kIn) {
    if (!value.is_array()) return Expected(value_path, "an array of values for 'in'", value);
    out->values.resize(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      NS_RETURN_IF_ERROR(ReadScalar(value[i], IndexPath(value_path, i), &out->values[i]));
    }
    return Status::OK();
  }
  if (value.is_array()) {
    return Error(value_path, "expected a single value, got array (use op 'in' for a list)");
  }
  out->values.emplace_back();
  return ReadScalar(value, value_path, &out->values.back());
}

// Recursion here is bounded by DomBuilder's depth limit.
Status ReadCondition(const Json& j, const std::string& path, Filter* out) {
  if (!j.is_object()) return Expected(path, "a condition object", j);
  std::optional<Filter::Kind> kind;
  std::string first_key;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::optional<Filter::Kind> k = ConditionKindOfKey(it.key());
    if (!k) return Error(KeyPath(path, it.key()), "unknown key");
    if (!kind) {
      kind = k;
      first_key = it.key();
    } else if (*k != *kind) {
      return Error(path, "'" + first_key + "' and '" + it.key() +
                             "' cannot be combined in one condition (nest them in an 'and')");
    }
  }
  if (!kind) return Error(path, std::string("empty condition (") + kConditionForms + ")");

  out->kind = *kind;
  switch (*kind) {
    case Filter::Kind::kAnd:
      return ReadConditionList(j.at("and"), path + ".and", &out->children);
    case Filter::Kind::kOr:
      return ReadConditionList(j.at("or"), path + ".or", &out->children);
    case Filter::Kind::kNot: {
      const Json& child = j.at("not");
      // An array would read as an implicit list; 'not' negates exactly one.
      if (!child.is_object()) return Expected(path + ".not", "a condition object", child);
      out->children.emplace_back();
      return ReadCondition(child, path + ".not", &out->children.back());
    }
    case Filter::Kind::kCompare:
      return ReadCompare(j, path, out);
    case Filter::Kind::kUnder: {
      const auto it = j.find("under");
      if (it == j.end())
        return Error(path + ".under", "missing (the node whose subtree to search)");
      NS_RETURN_IF_ERROR(ReadString(*it, path + ".under", &out->target));
      if (const auto d = j.find("depth"); d != j.end()) {
        NS_RETURN_IF_ERROR(ReadInt(*d, path + ".depth", &out->depth));
      }
      return Status::OK();
    }
    case Filter::Kind::kMentions:
      return ReadString(j.at("mentions"), path + ".mentions", &out->target);
    case Filter::Kind::kMentionedBy:
      return ReadString(j.at("mentioned_by"), path + ".mentioned_by", &out->target);
    case Filter::Kind::kCollection:
      return ReadString(j.at("collection"), path + ".collection", &out->target);
  }
  return Status::Internal("unhandled condition kind");
}

// "filters" is a list ANDed together, or one condition standing for a list of
// one: both give a root AND, so they print and cache alike.
Status ReadFilters(const Json& j, Filter* out) {
  std::vector<Filter> children;
  if (j.is_object()) {
    children.emplace_back();
    NS_RETURN_IF_ERROR(ReadCondition(j, "filters[0]", &children.back()));
  } else if (j.is_array()) {
    NS_RETURN_IF_ERROR(ReadConditionList(j, "filters", &children));
  } else {
    return Expected("filters", "an array of conditions or one condition object", j);
  }
  *out = Filter::And(std::move(children));
  return Status::OK();
}

Status ReadSortKey(const Json& j, const std::string& path, SortKey* out) {
  if (j.is_string()) {
    out->field = j.get<std::string>();
    out->descending = true;
    return Status::OK();
  }
  if (!j.is_object()) return Expected(path, "a field name or {\"field\", \"order\"}", j);
  // SortKey defaults to "score"; an object without "field" is a mistake, not that.
  out->field.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key_path = KeyPath(path, it.key());
    if (it.key() == "field") {
      NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &out->field));
    } else if (it.key() == "order") {
      std::string order;
      NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &order));
      if (order != "asc" && order != "desc") return Error(key_path, "must be 'asc' or 'desc'");
      out->descending = order == "desc";
    } else {
      return Error(key_path, "unknown key");
    }
  }
  return Status::OK();
}

Status ReadSort(const Json& j, std::vector<SortKey>* out) {
  if (!j.is_array()) {
    out->emplace_back();
    return ReadSortKey(j, "sort[0]", &out->back());
  }
  out->resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    NS_RETURN_IF_ERROR(ReadSortKey(j[i], IndexPath("sort", i), &(*out)[i]));
  }
  return Status::OK();
}

Status ReadFacets(const Json& j, std::vector<FacetRequest>* out) {
  if (!j.is_array()) return Expected("facets", "an array", j);
  out->resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string path = IndexPath("facets", i);
    const Json& f = j[i];
    if (!f.is_object()) return Expected(path, "an object", f);
    for (auto it = f.begin(); it != f.end(); ++it) {
      const std::string key_path = KeyPath(path, it.key());
      if (it.key() == "field") {
        NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &(*out)[i].field));
      } else if (it.key() == "size") {
        NS_RETURN_IF_ERROR(ReadSize(it.value(), key_path, &(*out)[i].size));
      } else {
        return Error(key_path, "unknown key");
      }
    }
  }
  return Status::OK();
}

std::optional<AggregationRequest::Kind> ParseAggregationKind(const std::string& name) {
  using Kind = AggregationRequest::Kind;
  for (Kind k :
       {Kind::kCount, Kind::kMin, Kind::kMax, Kind::kAvg, Kind::kSum, Kind::kDateHistogram}) {
    if (name == AggregationKindName(k)) return k;
  }
  return std::nullopt;
}

Status ReadAggregations(const Json& j, std::vector<AggregationRequest>* out) {
  if (!j.is_array()) return Expected("aggregations", "an array", j);
  out->resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string path = IndexPath("aggregations", i);
    const Json& a = j[i];
    AggregationRequest& req = (*out)[i];
    if (!a.is_object()) return Expected(path, "an object", a);
    bool has_op = false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string key_path = KeyPath(path, it.key());
      if (it.key() == "name") {
        NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &req.name));
      } else if (it.key() == "op") {
        std::string op;
        NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &op));
        std::optional<AggregationRequest::Kind> kind = ParseAggregationKind(op);
        if (!kind) {
          return Error(key_path, "unknown aggregation " + Quoted(op) +
                                     " (expected count, min, max, avg, sum or date_histogram)");
        }
        req.kind = *kind;
        has_op = true;
      } else if (it.key() == "field") {
        NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &req.field));
      } else if (it.key() == "interval") {
        NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &req.interval));
      } else {
        return Error(key_path, "unknown key");
      }
    }
    if (!has_op) {
      return Error(path + ".op", "missing (one of count, min, max, avg, sum, date_histogram)");
    }
  }
  return Status::OK();
}

// "highlight": true (<mark>…</mark>), false, or {"open": "[", "close": "]"}.
Status ReadHighlight(const Json& j, Query* q) {
  if (j.is_boolean()) {
    q->highlight_open = j.get<bool>() ? "<mark>" : "";
    q->highlight_close = j.get<bool>() ? "</mark>" : "";
    return Status::OK();
  }
  if (!j.is_object()) return Expected("highlight", "a boolean or an object", j);
  q->highlight_open = "<mark>";
  q->highlight_close = "</mark>";
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key_path = KeyPath("highlight", it.key());
    if (it.key() == "open") {
      NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &q->highlight_open));
    } else if (it.key() == "close") {
      NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &q->highlight_close));
    } else {
      return Error(key_path, "unknown key");
    }
    if (q->highlight_open.size() > 64 || q->highlight_close.size() > 64) {
      return Error(key_path, "markers may be 64 bytes long");
    }
  }
  return Status::OK();
}

Status ReadFusion(const Json& j, FusionOptions* out) {
  if (!j.is_object()) return Expected("fusion", "an object", j);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key_path = KeyPath("fusion", it.key());
    if (it.key() == "method") {
      std::string method;
      NS_RETURN_IF_ERROR(ReadString(it.value(), key_path, &method));
      if (method == "rrf") {
        out->method = FusionOptions::Method::kRrf;
      } else if (method == "weighted") {
        out->method = FusionOptions::Method::kWeighted;
      } else {
        return Error(key_path, "must be 'rrf' or 'weighted'");
      }
    } else if (it.key() == "k") {
      NS_RETURN_IF_ERROR(ReadNumber(it.value(), key_path, &out->rrf_k));
    } else if (it.key() == "text_weight") {
      NS_RETURN_IF_ERROR(ReadNumber(it.value(), key_path, &out->text_weight));
    } else if (it.key() == "vector_weight") {
      NS_RETURN_IF_ERROR(ReadNumber(it.value(), key_path, &out->vector_weight));
    } else {
      return Error(key_path, "unknown key");
    }
  }
  return Status::OK();
}

Status ReadVector(const Json& j, std::vector<float>* out) {
  if (!j.is_array()) return Expected("vector", "an array of numbers", j);
  out->resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number()) return Expected(IndexPath("vector", i), "a number", j[i]);
    (*out)[i] = ToFloat(j[i].get<double>());
  }
  return Status::OK();
}

Status ReadQuery(const Json& j, Query* q) {
  if (!j.is_object()) {
    return Status::InvalidArgument(std::string("expected a JSON object at the top level, got ") +
                                   JsonTypeName(j));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key == "text") {
      NS_RETURN_IF_ERROR(ReadString(v, key, &q->text));
    } else if (key == "text_mode") {
      std::string mode;
      NS_RETURN_IF_ERROR(ReadString(v, key, &mode));
      if (mode != "all" && mode != "any") return Error(key, "must be 'all' or 'any'");
      q->text_any = mode == "any";
    } else if (key == "vector") {
      NS_RETURN_IF_ERROR(ReadVector(v, &q->vector));
    } else if (key == "semantic") {
      NS_RETURN_IF_ERROR(ReadString(v, key, &q->semantic));
    } else if (key == "filters") {
      NS_RETURN_IF_ERROR(ReadFilters(v, &q->filter));
    } else if (key == "include_archived") {
      NS_RETURN_IF_ERROR(ReadBool(v, key, &q->include_archived));
    } else if (key == "sort") {
      NS_RETURN_IF_ERROR(ReadSort(v, &q->sort));
    } else if (key == "limit") {
      NS_RETURN_IF_ERROR(ReadSize(v, key, &q->limit));
    } else if (key == "cursor") {
      NS_RETURN_IF_ERROR(ReadString(v, key, &q->cursor));
    } else if (key == "group_by_root") {
      NS_RETURN_IF_ERROR(ReadBool(v, key, &q->group_by_root));
    } else if (key == "highlight") {
      NS_RETURN_IF_ERROR(ReadHighlight(v, q));
    } else if (key == "facets") {
      NS_RETURN_IF_ERROR(ReadFacets(v, &q->facets));
    } else if (key == "aggregations") {
      NS_RETURN_IF_ERROR(ReadAggregations(v, &q->aggregations));
    } else if (key == "fusion") {
      NS_RETURN_IF_ERROR(ReadFusion(v, &q->fusion));
    } else if (key == "window") {
      NS_RETURN_IF_ERROR(ReadSize(v, key, &q->window));
    } else if (key == "ef") {
      NS_RETURN_IF_ERROR(ReadSize(v, key, &q->ef));
    } else if (key == "strategy") {
      std::string name;
      NS_RETURN_IF_ERROR(ReadString(v, key, &name));
      std::optional<QueryStrategy> strategy = ParseQueryStrategy(name);
      if (!strategy) {
        return Error(key, "unknown strategy " + Quoted(name) +
                              " (expected auto, filter_first, vector_first or hybrid)");
      }
      q->strategy = *strategy;
    } else if (key == "explain") {
      NS_RETURN_IF_ERROR(ReadBool(v, key, &q->explain));
    } else if (key == "cache") {
      NS_RETURN_IF_ERROR(ReadBool(v, key, &q->use_cache));
    } else {
      return Error(PathKey(key), "unknown key");
    }
  }
  return Status::OK();
}

// ---- semantic checks (ValidateQuery) -------------------------------------------

bool IsTimestampField(std::string_view field) {
  return field == "created_at" || field == "modified_at";
}

bool HasPropertyPrefix(std::string_view field) {
  return field.substr(0, kPropertiesPrefix.size()) == kPropertiesPrefix;
}

// Property paths are inlined into SQL and index names, so only
// [A-Za-z0-9_-]+ segments joined by '.' are accepted.
Status CheckPropertyField(const std::string& field, const std::string& path) {
  const std::string_view rest = std::string_view(field).substr(kPropertiesPrefix.size());
  bool segment_empty = true;
  for (char c : rest) {
    if (c == '.') {
      if (segment_empty) break;
      segment_empty = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-') {
      segment_empty = false;
    } else {
      segment_empty = true;
      break;
    }
  }
  if (segment_empty) {
    return Error(path, "invalid property path " + Quoted(field) +
                           " (parts of letters, digits, '_' or '-' separated by '.')");
  }
  return Status::OK();
}

// Checks a field name against `allowed` (plain names) and, when
// `properties` is set, properties.<path>.
Status CheckFieldName(const std::string& field, const std::string& path,
                      std::initializer_list<std::string_view> allowed, bool properties,
                      const std::string& unknown_message) {
  if (field.empty()) return Error(path, "missing");
  for (std::string_view name : allowed) {
    if (field == name) return Status::OK();
  }
  if (properties && HasPropertyPrefix(field)) return CheckPropertyField(field, path);
  return Error(path, unknown_message);
}

enum class FieldKind { kText, kLifecycle, kTimestamp, kProperty };

Result<FieldKind> FilterFieldKind(const std::string& field, const std::string& path) {
  NS_RETURN_IF_ERROR(CheckFieldName(
      field, path,
      {"id", "parent_id", "type", "lifecycle", "title", "content", "created_at", "modified_at"},
      true, "unknown field " + Quoted(field) + " (properties are named 'properties.<path>')"));
  if (field == "lifecycle") return FieldKind::kLifecycle;
  if (IsTimestampField(field)) return FieldKind::kTimestamp;
  if (HasPropertyPrefix(field)) return FieldKind::kProperty;
  return FieldKind::kText;
}

bool IsOrdering(Filter::Op op) {
  return op == Filter::Op::kLt || op == Filter::Op::kLe || op == Filter::Op::kGt ||
         op == Filter::Op::kGe;
}

bool IsTextMatch(Filter::Op op) {
  return op == Filter::Op::kContains || op == Filter::Op::kStartsWith;
}

Status CheckOpApplies(FieldKind kind, const Filter& f, const std::string& path) {
  const std::string op = Quoted(FilterOpName(f.op));
  if (kind == FieldKind::kLifecycle && (IsOrdering(f.op) || IsTextMatch(f.op))) {
    return Error(path, op + " does not apply to lifecycle (use =, !=, in or exists)");
  }
  if (kind == FieldKind::kTimestamp && IsTextMatch(f.op)) {
    return Error(path, op + " does not apply to " + f.field + ", a timestamp (use <, <=, >, >=)");
  }
  return Status::OK();
}

// Checks one value of a comparison. For a timestamp field given as a date
// string, `*ms` receives the value in milliseconds.
Status CheckValue(FieldKind kind, const Filter& f, const QueryValue& v, const std::string& path,
                  std::optional<int64_t>* ms) {
  if (const auto* d = std::get_if<double>(&v); d && !std::isfinite(*d)) {
    return Error(path, "not a finite number");
  }
  const auto* s = std::get_if<std::string>(&v);
  if (s && !content::IsValidUtf8(*s)) return Error(path, "not valid UTF-8");
  const std::string op = Quoted(FilterOpName(f.op));
  switch (kind) {
    case FieldKind::kText:
      if (!s) return Error(path, "expected a string for " + f.field + ", got " + ValueTypeName(v));
      return Status::OK();
    case FieldKind::kLifecycle:
      if (!s)
        return Error(path, "expected a string for lifecycle, got " + std::string(ValueTypeName(v)));
      if (!ParseLifecycle(*s)) {
        return Error(path,
                     "unknown lifecycle " + Quoted(*s) + " (expected active, archived or deleted)");
      }
      return Status::OK();
    case FieldKind::kTimestamp: {
      if (std::holds_alternative<int64_t>(v)) return Status::OK();
      if (!s) {
        return Error(path, "expected milliseconds since the epoch or a date string for " + f.field +
                               ", got " + ValueTypeName(v));
      }
      TimestampMs parsed = 0;
      if (!ids::ParseTimestamp(*s, &parsed)) {
        return Error(path, "invalid date " + Quoted(*s) + " for " + f.field +
                               " (expected milliseconds since the epoch, YYYY-MM-DD or RFC 3339 "
                               "such as 2024-03-01T12:00:00Z)");
      }
      *ms = parsed;
      return Status::OK();
    }
    case FieldKind::kProperty:
      if (IsOrdering(f.op) && !s && !std::holds_alternative<int64_t>(v) &&
          !std::holds_alternative<double>(v)) {
        return Error(path, op + " needs a number or a string, got " + ValueTypeName(v));
      }
      if (IsTextMatch(f.op) && !s) {
        return Error(path, op + " needs a string, got " + ValueTypeName(v));
      }
      return Status::OK();
  }
  return Status::OK();
}

// FilterT is `const Filter` (ValidateQuery) or `Filter` (NormalizeQuery,
// which also stores converted timestamps).
template <typename FilterT>
Status CheckValueAt(FieldKind kind, FilterT& f, size_t i, const std::string& path) {
  std::optional<int64_t> ms;
  NS_RETURN_IF_ERROR(CheckValue(kind, f, f.values[i], path, &ms));
  if constexpr (!std::is_const_v<FilterT>) {
    if (ms) f.values[i] = *ms;
  }
  return Status::OK();
}

template <typename FilterT>
Status CheckCompare(FilterT& f, const std::string& path, const QueryLimits& limits) {
  NS_ASSIGN_OR_RETURN(FieldKind kind, FilterFieldKind(f.field, path + ".field"));
  NS_RETURN_IF_ERROR(CheckOpApplies(kind, f, path + ".op"));
  const std::string value_path = path + ".value";
  const std::string op = Quoted(FilterOpName(f.op));
  switch (f.op) {
    case Filter::Op::kExists:
      if (f.values.size() != 1 || !std::holds_alternative<bool>(f.values[0])) {
        return Error(value_path, "'exists' takes true or false");
      }
      return Status::OK();
    case Filter::Op::kIn:
      if (f.values.empty()) return Error(value_path, "'in' needs at least one value");
      if (f.values.size() > limits.max_in_values) {
        return Error(value_path, "'in' takes at most " + std::to_string(limits.max_in_values) +
                                     " values, got " + std::to_string(f.values.size()) +
                                     " (QueryLimits::max_in_values)");
      }
      for (size_t i = 0; i < f.values.size(); ++i) {
        NS_RETURN_IF_ERROR(CheckValueAt(kind, f, i, IndexPath(value_path, i)));
      }
      return Status::OK();
    default:
      if (f.values.empty()) return Error(value_path, "missing");
      if (f.values.size() > 1) {
        return Error(value_path, op + " takes one value, got " + std::to_string(f.values.size()) +
                                     " (use 'in' for a list)");
      }
      return CheckValueAt(kind, f, 0, value_path);
  }
}

Status CheckTarget(const std::string& target, const std::string& path, const char* what) {
  if (target.empty()) return Error(path, std::string("missing ") + what);
  if (!content::IsValidUtf8(target)) return Error(path, "not valid UTF-8");
  return Status::OK();
}

// Walks the tree with an explicit stack: a Filter built in C++ may be nested
// arbitrarily deep, and the depth check must not itself overflow the stack.
template <typename FilterT>
Status CheckFilters(FilterT& root, const QueryLimits& limits) {
  struct Item {
    FilterT* filter;
    std::string path;
    size_t depth;
  };
  std::vector<Item> todo;
  auto push_children = [&todo](FilterT& f, const std::string& list_path, size_t depth) {
    for (size_t i = f.children.size(); i-- > 0;) {
      todo.push_back(Item{&f.children[i], IndexPath(list_path, i), depth});
    }
  };
  if (root.kind == Filter::Kind::kAnd) {
    push_children(root, "filters", 1);
  } else {
    todo.push_back(Item{&root, "filters[0]", 1});
  }
  size_t conditions = 0;
  while (!todo.empty()) {
    Item item = std::move(todo.back());
    todo.pop_back();
    FilterT& f = *item.filter;
    const std::string& path = item.path;
    if (item.depth > limits.max_filter_depth) {
      return Error(path, "nesting deeper than " + std::to_string(limits.max_filter_depth));
    }
    if (++conditions > limits.max_filter_conditions) {
      return Error(path, "more than " + std::to_string(limits.max_filter_conditions) +
                             " conditions (QueryLimits::max_filter_conditions)");
    }
    switch (f.kind) {
      case Filter::Kind::kAnd:
        push_children(f, path + ".and", item.depth + 1);
        break;
      case Filter::Kind::kOr:
        push_children(f, path + ".or", item.depth + 1);
        break;
      case Filter::Kind::kNot:
        if (f.children.size() != 1) {
          return Error(path + ".not",
                       "expected exactly one condition, got " + std::to_string(f.children.size()));
        }
        todo.push_back(Item{&f.children[0], path + ".not", item.depth + 1});
        break;
      case Filter::Kind::kCompare:
        NS_RETURN_IF_ERROR(CheckCompare(f, path, limits));
        break;
      case Filter::Kind::kUnder:
        NS_RETURN_IF_ERROR(CheckTarget(f.target, path + ".under", "node id"));
        if (f.depth < -1) {
          return Error(path + ".depth", "must be 0 or more (omit it for any depth)");
        }
        break;
      case Filter::Kind::kMentions:
        NS_RETURN_IF_ERROR(CheckTarget(f.target, path + ".mentions", "node id"));
        break;
      case Filter::Kind::kMentionedBy:
        NS_RETURN_IF_ERROR(CheckTarget(f.target, path + ".mentioned_by", "node id"));
        break;
      case Filter::Kind::kCollection: {
        const std::string target_path = path + ".collection";
        NS_RETURN_IF_ERROR(CheckTarget(f.target, target_path, "collection path"));
        const std::string bounded = ":" + f.target + ":";
        if (bounded.find("::") != std::string::npos) {
          return Error(target_path, "collection path " + Quoted(f.target) + " has an empty part");
        }
        break;
      }
    }
  }
  return Status::OK();
}

Status CheckRange(size_t value, size_t lo, size_t hi, const std::string& path) {
  if (value < lo || value > hi) {
    return Error(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return Status::OK();
}

Status CheckSort(const Query& q) {
  std::set<std::string> seen;
  for (size_t i = 0; i < q.sort.size(); ++i) {
    const std::string path = IndexPath("sort", i) + ".field";
    const std::string& field = q.sort[i].field;
    NS_RETURN_IF_ERROR(CheckFieldName(
        field, path, {"score", "id", "type", "title", "created_at", "modified_at"}, true,
        "cannot sort by " + Quoted(field) +
            " (sort by score, id, type, title, created_at, modified_at or properties.<path>)"));
    if (field == "score" && !q.ranked()) {
      return Error(path, "'score' needs a ranked query (text, vector or semantic)");
    }
    if (!seen.insert(field).second) return Error(path, "duplicate sort key " + Quoted(field));
  }
  return Status::OK();
}

Status CheckFacets(const Query& q, const QueryLimits& limits) {
  if (q.facets.size() > limits.max_facets) {
    return Error("facets", "at most " + std::to_string(limits.max_facets) + " facets, got " +
                               std::to_string(q.facets.size()) + " (QueryLimits::max_facets)");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < q.facets.size(); ++i) {
    const std::string path = IndexPath("facets", i);
    const std::string& field = q.facets[i].field;
    NS_RETURN_IF_ERROR(
        CheckFieldName(field, path + ".field", {"type", "lifecycle", "parent_id"}, true,
                       "cannot facet on " + Quoted(field) +
                           " (facet on type, lifecycle, parent_id or properties.<path>)"));
    if (!seen.insert(field).second) {
      return Error(path + ".field", "duplicate facet " + Quoted(field));
    }
    NS_RETURN_IF_ERROR(CheckRange(q.facets[i].size, 1, limits.max_facet_size, path + ".size"));
  }
  return Status::OK();
}

std::string AggregationResultName(const AggregationRequest& a) {
  if (!a.name.empty()) return a.name;
  return std::string(AggregationKindName(a.kind)) + "(" + a.field + ")";
}

Status CheckAggregations(const Query& q, const QueryLimits& limits) {
  using Kind = AggregationRequest::Kind;
  if (q.aggregations.size() > limits.max_aggregations) {
    return Error("aggregations", "at most " + std::to_string(limits.max_aggregations) +
                                     " aggregations, got " + std::to_string(q.aggregations.size()) +
                                     " (QueryLimits::max_aggregations)");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < q.aggregations.size(); ++i) {
    const AggregationRequest& a = q.aggregations[i];
    const std::string path = IndexPath("aggregations", i);
    const std::string op = Quoted(AggregationKindName(a.kind));
    if (!content::IsValidUtf8(a.name)) return Error(path + ".name", "not valid UTF-8");
    if (a.kind == Kind::kCount && a.field.empty()) {
      // count needs no field: it counts the matches.
    } else if (a.field.empty()) {
      return Error(path + ".field", op + " needs a field");
    } else {
      NS_RETURN_IF_ERROR(
          CheckFieldName(a.field, path + ".field", {"created_at", "modified_at"}, true,
                         "cannot aggregate " + Quoted(a.field) +
                             " (aggregate created_at, modified_at or properties.<path>)"));
    }
    const std::string interval_path = path + ".interval";
    if (a.kind == Kind::kDateHistogram) {
      if (a.interval != "day" && a.interval != "week" && a.interval != "month") {
        return Error(interval_path, "must be 'day', 'week' or 'month'");
      }
    } else if (a.interval != "day") {
      return Error(interval_path, "only date_histogram takes an interval");
    }
    const std::string name = AggregationResultName(a);
    if (!names.insert(name).second) {
      return Error(path + ".name", "duplicate aggregation name " + Quoted(name));
    }
  }
  return Status::OK();
}

Status CheckFusion(const FusionOptions& fusion) {
  if (!std::isfinite(fusion.rrf_k) || fusion.rrf_k <= 0) {
    return Error("fusion.k", "must be a positive number");
  }
  if (!std::isfinite(fusion.text_weight) || fusion.text_weight < 0) {
    return Error("fusion.text_weight", "must be a number >= 0");
  }
  if (!std::isfinite(fusion.vector_weight) || fusion.vector_weight < 0) {
    return Error("fusion.vector_weight", "must be a number >= 0");
  }
  if (fusion.text_weight == 0 && fusion.vector_weight == 0) {
    return Error("fusion", "text_weight and vector_weight cannot both be 0");
  }
  return Status::OK();
}

// `root` is q.filter itself, const or not (see CheckValueAt).
template <typename FilterT>
Status CheckQuery(const Query& q, FilterT& root, const QueryLimits& limits) {
  if (!content::IsValidUtf8(q.text)) return Error("text", "not valid UTF-8");
  if (!content::IsValidUtf8(q.semantic)) return Error("semantic", "not valid UTF-8");
  for (size_t i = 0; i < q.vector.size(); ++i) {
    if (!std::isfinite(q.vector[i])) return Error(IndexPath("vector", i), "not a finite number");
  }
  if (!q.semantic.empty() && !q.vector.empty()) {
    return Error("semantic",
                 "cannot be combined with 'vector' (semantic text is embedded into the query "
                 "vector; use one of them)");
  }
  NS_RETURN_IF_ERROR(CheckFilters(root, limits));
  NS_RETURN_IF_ERROR(CheckSort(q));
  NS_RETURN_IF_ERROR(CheckRange(q.limit, 1, limits.max_limit, "limit"));
  if (!content::IsValidUtf8(q.cursor)) return Error("cursor", "not valid UTF-8");
  NS_RETURN_IF_ERROR(CheckFacets(q, limits));
  NS_RETURN_IF_ERROR(CheckAggregations(q, limits));
  NS_RETURN_IF_ERROR(CheckFusion(q.fusion));
  NS_RETURN_IF_ERROR(CheckRange(q.window, 1, limits.max_window, "window"));
  // ef sizes the graph search's candidate list, the same work window bounds.
  if (q.ef > limits.max_window) {
    return Error(
        "ef", "must be at most " + std::to_string(limits.max_window) + " (0: the index default)");
  }
  return Status::OK();
}

// ---- Query -> canonical JSON ---------------------------------------------------

// Non-ASCII bytes are copied as they are, so that distinct strings always
// print distinctly (the cache relies on it) and the output is as UTF-8 as the
// input was.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

// Shortest text that reads back as the same double. `keep_real` adds ".0" to
// integral values so that a real filter value does not read back as an
// integer.
void AppendDouble(std::string* out, double d, bool keep_real) {
  if (!std::isfinite(d)) {
    *out += "null";  // JSON has no infinities; such a query fails validation anyway
    return;
  }
  if (d == 0 && std::signbit(d)) {
    *out += "-0.0";  // "-0" would read back as the integer 0
    return;
  }
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof(buf), d);
  const std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
  *out += text;
  if (keep_real && text.find_first_of(".e") == std::string_view::npos) *out += ".0";
}

// Vectors are read as doubles and narrowed to float, so the shortest text
// that names the float is enough when it narrows back to the same float;
// otherwise the float's exact double value is printed.
void AppendFloat(std::string* out, float f) {
  if (!std::isfinite(f)) {
    *out += "null";
    return;
  }
  if (f == 0 && std::signbit(f)) {
    *out += "-0.0";
    return;
  }
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof(buf), f);
  double back = 0;
  const auto parsed = std::from_chars(buf, r.ptr, back);
  if (parsed.ec == std::errc() && static_cast<float>(back) == f) {
    out->append(buf, r.ptr);
  } else {
    AppendDouble(out, static_cast<double>(f), false);
  }
}

void AppendValue(std::string* out, const QueryValue& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    *out += "null";
  } else if (const auto* b = std::get_if<bool>(&v)) {
    *out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    *out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    AppendDouble(out, *d, true);
  } else {
    AppendJsonString(out, std::get<std::string>(v));
  }
}

// Timestamps print as milliseconds however they were written.
void AppendCompareValue(std::string* out, const Filter& f, const QueryValue& v) {
  TimestampMs ms = 0;
  const auto* s = std::get_if<std::string>(&v);
  if (s && IsTimestampField(f.field) && ids::ParseTimestamp(*s, &ms)) {
    *out += std::to_string(ms);
  } else {
    AppendValue(out, v);
  }
}

class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  std::string* Key(const char* key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    AppendJsonString(out_, key);
    out_->push_back(':');
    return out_;
  }
  void Close() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

void AppendLeafCondition(std::string* out, const Filter& f) {
  ObjectWriter w(out);
  switch (f.kind) {
    case Filter::Kind::kCompare: {
      AppendJsonString(w.Key("field"), f.field);
      AppendJsonString(w.Key("op"), FilterOpName(f.op));
      const bool default_exists =
          f.op == Filter::Op::kExists && f.values.size() == 1 && f.values[0] == QueryValue(true);
      if (default_exists) break;
      std::string* v = w.Key("value");
      if (f.op != Filter::Op::kIn && f.values.size() == 1) {
        AppendCompareValue(v, f, f.values[0]);
        break;
      }
      v->push_back('[');
      for (size_t i = 0; i < f.values.size(); ++i) {
        if (i > 0) v->push_back(',');
        AppendCompareValue(v, f, f.values[i]);
      }
      v->push_back(']');
      break;
    }
    case Filter::Kind::kUnder:
      AppendJsonString(w.Key("under"), f.target);
      if (f.depth != -1) *w.Key("depth") += std::to_string(f.depth);
      break;
    case Filter::Kind::kMentions:
      AppendJsonString(w.Key("mentions"), f.target);
      break;
    case Filter::Kind::kMentionedBy:
      AppendJsonString(w.Key("mentioned_by"), f.target);
      break;
    case Filter::Kind::kCollection:
      AppendJsonString(w.Key("collection"), f.target);
      break;
    default:
      break;
  }
  w.Close();
}

// Iterative for the same reason as CheckFilters: QueryToJson accepts any
// Query, validated or not.
void AppendCondition(std::string* out, const Filter& root) {
  struct Frame {
    const Filter* filter;
    size_t next;  // children written so far
  };
  std::vector<Frame> stack{{&root, 0}};
  while (!stack.empty()) {
    const Filter& f = *stack.back().filter;
    const size_t next = stack.back().next;
    const bool single_not = f.kind == Filter::Kind::kNot && f.children.size() == 1;
    if (f.kind != Filter::Kind::kAnd && f.kind != Filter::Kind::kOr &&
        f.kind != Filter::Kind::kNot) {
      AppendLeafCondition(out, f);
      stack.pop_back();
      continue;
    }
    if (next == 0) {
      *out += f.kind == Filter::Kind::kAnd  ? "{\"and\":"
              : f.kind == Filter::Kind::kOr ? "{\"or\":"
                                            : "{\"not\":";
      // A malformed 'not' (not one child) prints as a list, which parsing
      // rejects, rather than silently dropping children.
      if (!single_not) out->push_back('[');
    }
    if (next < f.children.size()) {
      if (next > 0) out->push_back(',');
      stack.back().next = next + 1;
      stack.push_back(Frame{&f.children[next], 0});
      continue;
    }
    *out += single_not ? "}" : "]}";
    stack.pop_back();
  }
}

}  // namespace

namespace query {

Status NormalizeQuery(Query* query, const QueryLimits& limits) {
  return CheckQuery(*query, query->filter, limits);
}

}  // namespace query

Status ValidateQuery(const Query& query, const QueryLimits& limits) {
  return CheckQuery(query, query.filter, limits);
}

Result<Query> ParseQueryJson(const std::string& json, const QueryLimits& limits) {
  if (json.size() > limits.max_json_bytes) {
    return Status::InvalidArgument(
        "query JSON is " + std::to_string(json.size()) + " bytes, more than the limit of " +
        std::to_string(limits.max_json_bytes) + " (QueryLimits::max_json_bytes)");
  }
  // Each filter level costs two JSON levels ({"and": [...]}); the slack
  // covers the query object, "filters" and a value list. Deeper input is
  // refused while it is read, before anything walks it recursively.
  const size_t max_depth = 2 * limits.max_filter_depth + 8;
  Json dom;
  DomBuilder builder(&dom, max_depth, limits.max_filter_depth);
  if (!Json::sax_parse(json, &builder)) {
    if (!builder.status().ok()) return builder.status();
    return Status::InvalidArgument("invalid JSON");
  }
  Query q;
  NS_RETURN_IF_ERROR(ReadQuery(dom, &q));
  NS_RETURN_IF_ERROR(query::NormalizeQuery(&q, limits));
  return q;
}

std::string QueryToJson(const Query& q) {
  const Query defaults;
  std::string out;
  ObjectWriter w(&out);
  if (!q.text.empty()) AppendJsonString(w.Key("text"), q.text);
  if (q.text_any) *w.Key("text_mode") += "\"any\"";
  if (!q.vector.empty()) {
    std::string* v = w.Key("vector");
    v->push_back('[');
    for (size_t i = 0; i < q.vector.size(); ++i) {
      if (i > 0) v->push_back(',');
      AppendFloat(v, q.vector[i]);
    }
    v->push_back(']');
  }
  if (!q.semantic.empty()) AppendJsonString(w.Key("semantic"), q.semantic);
  const bool root_and = q.filter.kind == Filter::Kind::kAnd;
  if (!root_and || !q.filter.children.empty()) {
    std::string* f = w.Key("filters");
    f->push_back('[');
    if (root_and) {
      for (size_t i = 0; i < q.filter.children.size(); ++i) {
        if (i > 0) f->push_back(',');
        AppendCondition(f, q.filter.children[i]);
      }
    } else {
      AppendCondition(f, q.filter);
    }
    f->push_back(']');
  }
  if (q.include_archived) *w.Key("include_archived") += "true";
  if (!q.sort.empty()) {
    std::string* s = w.Key("sort");
    s->push_back('[');
    for (size_t i = 0; i < q.sort.size(); ++i) {
      if (i > 0) s->push_back(',');
      ObjectWriter key(s);
      AppendJsonString(key.Key("field"), q.sort[i].field);
      if (!q.sort[i].descending) *key.Key("order") += "\"asc\"";
      key.Close();
    }
    s->push_back(']');
  }
  if (q.limit != defaults.limit) *w.Key("limit") += std::to_string(q.limit);
  if (!q.cursor.empty()) AppendJsonString(w.Key("cursor"), q.cursor);
  if (q.group_by_root) *w.Key("group_by_root") += "true";
  if (!q.highlight_open.empty() || !q.highlight_close.empty()) {
    ObjectWriter hw(w.Key("highlight"));
    AppendJsonString(hw.Key("open"), q.highlight_open);
    AppendJsonString(hw.Key("close"), q.highlight_close);
    hw.Close();
  }
  if (!q.facets.empty()) {
    std::string* s = w.Key("facets");
    s->push_back('[');
    for (size_t i = 0; i < q.facets.size(); ++i) {
      if (i > 0) s->push_back(',');
      ObjectWriter facet(s);
      AppendJsonString(facet.Key("field"), q.facets[i].field);
      if (q.facets[i].size != FacetRequest().size) {
        *facet.Key("size") += std::to_string(q.facets[i].size);
      }
      facet.Close();
    }
    s->push_back(']');
  }
  if (!q.aggregations.empty()) {
    std::string* s = w.Key("aggregations");
    s->push_back('[');
    for (size_t i = 0; i < q.aggregations.size(); ++i) {
      const AggregationRequest& a = q.aggregations[i];
      if (i > 0) s->push_back(',');
      ObjectWriter agg(s);
      if (!a.name.empty()) AppendJsonString(agg.Key("name"), a.name);
      AppendJsonString(agg.Key("op"), AggregationKindName(a.kind));
      if (!a.field.empty()) AppendJsonString(agg.Key("field"), a.field);
      if (a.interval != AggregationRequest().interval) {
        AppendJsonString(agg.Key("interval"), a.interval);
      }
      agg.Close();
    }
    s->push_back(']');
  }
  const FusionOptions fusion_defaults;
  const FusionOptions& fu = q.fusion;
  if (fu.method != fusion_defaults.method || fu.rrf_k != fusion_defaults.rrf_k ||
      fu.text_weight != fusion_defaults.text_weight ||
      fu.vector_weight != fusion_defaults.vector_weight) {
    ObjectWriter fw(w.Key("fusion"));
    if (fu.method != fusion_defaults.method) *fw.Key("method") += "\"weighted\"";
    if (fu.rrf_k != fusion_defaults.rrf_k) AppendDouble(fw.Key("k"), fu.rrf_k, false);
    if (fu.text_weight != fusion_defaults.text_weight) {
      AppendDouble(fw.Key("text_weight"), fu.text_weight, false);
    }
    if (fu.vector_weight != fusion_defaults.vector_weight) {
      AppendDouble(fw.Key("vector_weight"), fu.vector_weight, false);
    }
    fw.Close();
  }
  if (q.window != defaults.window) *w.Key("window") += std::to_string(q.window);
  if (q.ef != defaults.ef) *w.Key("ef") += std::to_string(q.ef);
  if (q.strategy != defaults.strategy) {
    AppendJsonString(w.Key("strategy"), QueryStrategyName(q.strategy));
  }
  // explain and cache are left out on purpose: they change how a query runs,
  // not what it returns, and the cache keys on this text.
  w.Close();
  return out;
}

}  // namespace nodespace
