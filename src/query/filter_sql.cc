#include "query/filter_sql.h"

#include <cctype>

namespace nodespace::query {
namespace {

constexpr const char* kPropertiesPrefix = "properties.";

// "?<n>". Built by appending: gcc 12 warns falsely (-Wrestrict) about
// "?" + std::to_string(n).
std::string Placeholder(size_t n) {
  std::string p = "?";
  p += std::to_string(n);
  return p;
}

bool IsPropertyField(const std::string& field) {
  return field.rfind(kPropertiesPrefix, 0) == 0;
}

struct Compiler {
  const CollectionResolver& resolve;
  SubtreeTest subtree_test;
  SqlExpr out;

  std::string Param(QueryValue value) {
    out.args.push_back(std::move(value));
    return Placeholder(out.args.size());
  }

  // Lifecycle is stored as an integer; the model speaks its names.
  Result<QueryValue> ColumnValue(const std::string& field, const QueryValue& v) {
    if (field != "lifecycle") return v;
    const auto* name = std::get_if<std::string>(&v);
    std::optional<Lifecycle> lifecycle = name ? ParseLifecycle(*name) : std::nullopt;
    if (!lifecycle) {
      return Status::InvalidArgument("lifecycle must be 'active', 'archived' or 'deleted'");
    }
    return QueryValue(static_cast<int64_t>(*lifecycle));
  }

  Status Compare(const Filter& f) {
    NS_ASSIGN_OR_RETURN(std::string x, FieldSql(f.field));
    const bool property = IsPropertyField(f.field);
    auto value = [&](size_t i) -> Result<std::string> {
      if (i >= f.values.size()) {
        return Status::InvalidArgument(f.field + ": operator '" + FilterOpName(f.op) +
                                       "' needs a value");
      }
      NS_ASSIGN_OR_RETURN(QueryValue v, ColumnValue(f.field, f.values[i]));
      return Param(std::move(v));
    };
    std::string& s = out.sql;
    switch (f.op) {
      case Filter::Op::kEq:
        if (!f.values.empty() && std::holds_alternative<std::monostate>(f.values[0])) {
          s += "(" + x + " IS NULL)";
        } else {
          NS_ASSIGN_OR_RETURN(std::string p, value(0));
          s += "(" + x + " = " + p + ")";
        }
        return Status::OK();
      case Filter::Op::kNe: {
        // A node without the property is "not equal" too.
        NS_ASSIGN_OR_RETURN(std::string p, value(0));
        s += "(" + x + " IS NOT " + p + ")";
        return Status::OK();
      }
      case Filter::Op::kLt:
      case Filter::Op::kLe:
      case Filter::Op::kGt:
      case Filter::Op::kGe: {
        NS_ASSIGN_OR_RETURN(std::string p, value(0));
        s += "(" + x + " " + FilterOpName(f.op) + " " + p + ")";
        return Status::OK();
      }
      case Filter::Op::kIn: {
        if (f.values.empty()) return Status::InvalidArgument(f.field + ": 'in' needs values");
        s += "(" + x + " IN (";
        for (size_t i = 0; i < f.values.size(); ++i) {
          NS_ASSIGN_OR_RETURN(std::string p, value(i));
          if (i) s += ", ";
          s += p;
        }
        s += "))";
        return Status::OK();
      }
      case Filter::Op::kExists: {
        bool want = true;
        if (!f.values.empty()) {
          const auto* b = std::get_if<bool>(&f.values[0]);
          if (!b) return Status::InvalidArgument(f.field + ": 'exists' takes true or false");
          want = *b;
        }
        std::string test;
        if (property) {
          NS_ASSIGN_OR_RETURN(std::string path, PropertyPathLiteral(f.field));
          test = "json_type(n.properties, " + path + ") IS NOT NULL";
        } else {
          test = x + " IS NOT NULL AND " + x + " != ''";
        }
        s += want ? "(" + test + ")" : "(NOT (" + test + "))";
        return Status::OK();
      }
      case Filter::Op::kContains:
      case Filter::Op::kStartsWith: {
        NS_ASSIGN_OR_RETURN(std::string p, value(0));
        // ASCII case folding: lower() is what SQLite offers without ICU.
        const std::string text_test =
            f.op == Filter::Op::kContains
                ? "instr(lower(" + x + "), lower(" + p + ")) > 0"
                : "substr(lower(" + x + "), 1, length(" + p + ")) = lower(" + p + ")";
        if (property && f.op == Filter::Op::kContains) {
          // Arrays (tags, aliases) contain an element equal to the value.
          NS_ASSIGN_OR_RETURN(std::string path, PropertyPathLiteral(f.field));
          s += "(CASE json_type(n.properties, " + path +
               ") WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(n.properties, " + path +
               ") je WHERE je.value = " + p + ") WHEN 'text' THEN " + text_test + " ELSE 0 END)";
        } else {
          s += "(" + text_test + ")";
        }
        return Status::OK();
      }
    }
    return Status::Internal("unknown filter operator");
  }

  Status Node(const Filter& f) {
    std::string& s = out.sql;
    switch (f.kind) {
      case Filter::Kind::kAnd:
      case Filter::Kind::kOr: {
        if (f.children.empty()) {
          s += f.kind == Filter::Kind::kAnd ? "1" : "0";
          return Status::OK();
        }
        s += "(";
        for (size_t i = 0; i < f.children.size(); ++i) {
          if (i) s += f.kind == Filter::Kind::kAnd ? " AND " : " OR ";
          NS_RETURN_IF_ERROR(Node(f.children[i]));
        }
        s += ")";
        return Status::OK();
      }
      case Filter::Kind::kNot:
        if (f.children.size() != 1) return Status::InvalidArgument("'not' takes one condition");
        // SQL's NOT of an unknown (a missing property) is unknown; the
        // model's NOT of "no match" is a match.
        s += "(NOT coalesce(";
        NS_RETURN_IF_ERROR(Node(f.children[0]));
        s += ", 0))";
        return Status::OK();
      case Filter::Kind::kCompare:
        return Compare(f);
      case Filter::Kind::kUnder: {
        const std::string root = Param(f.target);
        if (subtree_test == SubtreeTest::kAncestors) {
          // The node itself, or one of its ancestors within `depth` levels.
          s += "(n.id = " + root +
               " OR EXISTS (WITH RECURSIVE up(id, d) AS (SELECT n.parent_id, 1 UNION ALL SELECT "
               "p.parent_id, up.d + 1 FROM nodes p JOIN up ON p.id = up.id WHERE up.id != '' AND "
               "up.d < 10000) SELECT 1 FROM up WHERE up.id = " +
               root;
          if (f.depth >= 0) s += " AND up.d <= " + std::to_string(f.depth);
          s += "))";
          return Status::OK();
        }
        s += "(n.id IN (WITH RECURSIVE sub(id, d) AS (SELECT id, 0 FROM nodes WHERE id = " + root +
             " UNION ALL SELECT c.id, sub.d + 1 FROM nodes c JOIN sub ON c.parent_id = sub.id";
        if (f.depth >= 0) s += " WHERE sub.d < " + std::to_string(f.depth);
        s += ") SELECT id FROM sub))";
        return Status::OK();
      }
      case Filter::Kind::kMentions:
        s += "(n.id IN (SELECT from_id FROM edges WHERE to_id = " + Param(f.target) +
             " AND type = 'mentions'))";
        return Status::OK();
      case Filter::Kind::kMentionedBy:
        s += "(n.id IN (SELECT to_id FROM edges WHERE from_id = " + Param(f.target) +
             " AND type = 'mentions'))";
        return Status::OK();
      case Filter::Kind::kCollection: {
        NS_ASSIGN_OR_RETURN(std::string collection_id, resolve(f.target));
        s += "(n.id IN (SELECT from_id FROM edges WHERE to_id = " + Param(collection_id) +
             " AND type = 'member_of'))";
        return Status::OK();
      }
    }
    return Status::Internal("unknown filter kind");
  }
};

}  // namespace

void SqlExpr::And(const SqlExpr& other) {
  // Renumber the other expression's parameters after ours.
  std::string renumbered;
  const std::string& o = other.sql;
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == '?' && i + 1 < o.size() && std::isdigit(static_cast<unsigned char>(o[i + 1]))) {
      size_t j = i + 1;
      int64_t index = 0;
      while (j < o.size() && std::isdigit(static_cast<unsigned char>(o[j]))) {
        index = index * 10 + (o[j] - '0');
        ++j;
      }
      renumbered += Placeholder(static_cast<size_t>(index) + args.size());
      i = j - 1;
    } else {
      renumbered.push_back(o[i]);
    }
  }
  sql = sql.empty() ? renumbered : "(" + sql + ") AND (" + renumbered + ")";
  args.insert(args.end(), other.args.begin(), other.args.end());
}

Result<std::string> PropertyPathLiteral(const std::string& field) {
  if (!IsPropertyField(field)) {
    return Status::InvalidArgument("'" + field + "' is not a property field");
  }
  const std::string path = field.substr(std::char_traits<char>::length(kPropertiesPrefix));
  std::string out = "'$.\"";
  bool part_empty = true;
  for (char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '.') {
      if (part_empty) break;
      out += "\".\"";
      part_empty = true;
    } else if (std::isalnum(c) || ch == '_' || ch == '-') {
      out.push_back(ch);
      part_empty = false;
    } else {
      return Status::InvalidArgument("property path '" + path +
                                     "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  if (part_empty) return Status::InvalidArgument("property path '" + path + "' has an empty part");
  return out + "\"'";
}

Result<std::string> FieldSql(const std::string& field) {
  static const std::pair<const char*, const char*> kColumns[] = {
      {"id", "n.id"},
      {"parent_id", "n.parent_id"},
      {"type", "n.node_type"},
      {"lifecycle", "n.lifecycle"},
      {"title", "n.title"},
      {"content", "n.content"},
      {"created_at", "n.created_at"},
      {"modified_at", "n.modified_at"},
  };
  for (const auto& [name, column] : kColumns) {
    if (field == name) return std::string(column);
  }
  if (IsPropertyField(field)) {
    NS_ASSIGN_OR_RETURN(std::string path, PropertyPathLiteral(field));
    return "json_extract(n.properties, " + path + ")";
  }
  return Status::InvalidArgument("unknown field '" + field +
                                 "' (properties are named 'properties.<path>')");
}

Result<std::string> PropertyIndexExpression(const std::string& field) {
  NS_ASSIGN_OR_RETURN(std::string path, PropertyPathLiteral(field));
  return "json_extract(properties, " + path + ")";
}

Result<SqlExpr> CompileFilter(const Filter& filter, const CollectionResolver& resolve,
                              SubtreeTest subtree_test) {
  Compiler c{resolve, subtree_test, {}};
  NS_RETURN_IF_ERROR(c.Node(filter));
  return std::move(c.out);
}

bool FilterMentionsField(const Filter& filter, const std::string& field) {
  if (filter.kind == Filter::Kind::kCompare && filter.field == field) return true;
  for (const Filter& child : filter.children) {
    if (FilterMentionsField(child, field)) return true;
  }
  return false;
}

void BindArgs(storage::Statement& stmt, const std::vector<QueryValue>& args, int first) {
  int i = first;
  for (const QueryValue& v : args) {
    if (const auto* b = std::get_if<bool>(&v)) {
      stmt.Bind(i, static_cast<int64_t>(*b ? 1 : 0));
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      stmt.BindDouble(i, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      stmt.Bind(i, *s);
    } else {
      stmt.BindNull(i);
    }
    ++i;
  }
}

CreatedBounds CreatedAtBounds(const Filter& filter) {
  CreatedBounds out;
  auto tighten = [&out](const Filter& f) {
    if (f.kind != Filter::Kind::kCompare || f.field != "created_at" || f.values.size() != 1) return;
    const auto* v = std::get_if<int64_t>(&f.values[0]);
    if (v == nullptr) return;
    auto lower = [&out](int64_t x) { out.min = out.min ? std::max(*out.min, x) : x; };
    auto upper = [&out](int64_t x) { out.max = out.max ? std::min(*out.max, x) : x; };
    switch (f.op) {
      case Filter::Op::kEq:
        lower(*v);
        upper(*v);
        break;
      case Filter::Op::kGt:
        lower(*v + 1);
        break;
      case Filter::Op::kGe:
        lower(*v);
        break;
      case Filter::Op::kLt:
        upper(*v - 1);
        break;
      case Filter::Op::kLe:
        upper(*v);
        break;
      default:
        break;
    }
  };
  if (filter.kind == Filter::Kind::kAnd) {
    for (const Filter& child : filter.children) tighten(child);
  } else {
    tighten(filter);
  }
  return out;
}

}  // namespace nodespace::query
