#include "model/schema.h"

#include <algorithm>

#include "model/ids.h"

namespace nodespace::schema {
namespace {

const char* const kFieldTypes[] = {"string",   "number", "integer", "boolean", "date",
                                   "datetime", "enum",   "array",   "object"};

bool IsKnownType(const std::string& t) {
  return std::any_of(std::begin(kFieldTypes), std::end(kFieldTypes),
                     [&](const char* k) { return t == k; });
}

std::string Describe(const nlohmann::json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

Status CheckField(const std::string& path, const nlohmann::json& v, const FieldSpec& spec) {
  const std::string& t = spec.type;
  auto bad = [&](const std::string& want) {
    return Status::InvalidArgument(path + ": expected " + want + ", got " + Describe(v));
  };
  if (t == "string") return v.is_string() ? Status::OK() : bad("a string");
  if (t == "number") return v.is_number() ? Status::OK() : bad("a number");
  if (t == "integer") return v.is_number_integer() ? Status::OK() : bad("an integer");
  if (t == "boolean") return v.is_boolean() ? Status::OK() : bad("true or false");
  if (t == "array") return v.is_array() ? Status::OK() : bad("an array");
  if (t == "object") return v.is_object() ? Status::OK() : bad("an object");
  if (t == "date") {
    return v.is_string() && ids::IsDateId(v.get<std::string>()) ? Status::OK()
                                                                : bad("a date YYYY-MM-DD");
  }
  if (t == "datetime") {
    TimestampMs ms;
    return v.is_string() && ids::ParseTimestamp(v.get<std::string>(), &ms)
               ? Status::OK()
               : bad("an ISO 8601 date-time");
  }
  if (t == "enum") {
    if (v.is_string() && std::find(spec.values.begin(), spec.values.end(), v.get<std::string>()) !=
                             spec.values.end()) {
      return Status::OK();
    }
    std::string allowed;
    for (const auto& a : spec.values) allowed += (allowed.empty() ? "" : ", ") + a;
    return bad("one of [" + allowed + "]");
  }
  return Status::Internal("unknown field type " + t);
}

}  // namespace

Result<TypeSchema> ParseSchemaNode(const nlohmann::json& properties) {
  if (!properties.is_object() || !properties.contains("schema") ||
      !properties["schema"].is_object()) {
    return Status::InvalidArgument(
        "schema node needs properties {\"schema\": {\"for\": ..., "
        "\"fields\": {...}}}");
  }
  const auto& s = properties["schema"];
  TypeSchema out;
  if (!s.contains("for") || !s["for"].is_string() || s["for"].get<std::string>().empty()) {
    return Status::InvalidArgument("schema.for: expected the node type this schema validates");
  }
  out.for_type = s["for"].get<std::string>();
  if (s.contains("allow_unknown_fields")) {
    if (!s["allow_unknown_fields"].is_boolean()) {
      return Status::InvalidArgument("schema.allow_unknown_fields: expected true or false");
    }
    out.allow_unknown_fields = s["allow_unknown_fields"].get<bool>();
  }
  if (s.contains("fields")) {
    if (!s["fields"].is_object())
      return Status::InvalidArgument("schema.fields: expected an object");
    for (const auto& [name, f] : s["fields"].items()) {
      const std::string path = "schema.fields." + name;
      if (!f.is_object() || !f.contains("type") || !f["type"].is_string()) {
        return Status::InvalidArgument(path + ": expected {\"type\": ...}");
      }
      FieldSpec spec;
      spec.type = f["type"].get<std::string>();
      if (!IsKnownType(spec.type)) {
        return Status::InvalidArgument(path + ".type: unknown field type '" + spec.type + "'");
      }
      if (f.contains("required")) {
        if (!f["required"].is_boolean()) {
          return Status::InvalidArgument(path + ".required: expected true or false");
        }
        spec.required = f["required"].get<bool>();
      }
      if (spec.type == "enum") {
        if (!f.contains("values") || !f["values"].is_array() || f["values"].empty()) {
          return Status::InvalidArgument(path + ".values: an enum needs a list of strings");
        }
        for (const auto& v : f["values"]) {
          if (!v.is_string()) return Status::InvalidArgument(path + ".values: expected strings");
          spec.values.push_back(v.get<std::string>());
        }
      }
      out.fields.emplace(name, std::move(spec));
    }
  }
  return out;
}

const TypeSchema* BuiltinSchema(const std::string& node_type) {
  static const TypeSchema kTask = [] {
    TypeSchema s;
    s.for_type = "task";
    s.fields["status"] = {"enum", false, {"open", "in_progress", "done", "cancelled"}};
    s.fields["due"] = {"date", false, {}};
    s.fields["priority"] = {"integer", false, {}};
    s.fields["completed_at"] = {"datetime", false, {}};
    return s;
  }();
  static const TypeSchema kDate = [] {
    TypeSchema s;
    s.for_type = "date";
    return s;
  }();
  if (node_type == "task") return &kTask;
  if (node_type == "date") return &kDate;
  return nullptr;
}

Status Validate(const nlohmann::json& properties, const TypeSchema& schema) {
  if (!properties.contains(schema.for_type)) {
    for (const auto& [name, spec] : schema.fields) {
      if (spec.required) {
        return Status::InvalidArgument(schema.for_type + "." + name +
                                       ": required property missing");
      }
    }
    return Status::OK();
  }
  const auto& ns = properties[schema.for_type];
  if (!ns.is_object()) {
    return Status::InvalidArgument(schema.for_type + ": expected an object of " + schema.for_type +
                                   " properties");
  }
  for (const auto& [name, spec] : schema.fields) {
    const std::string path = schema.for_type + "." + name;
    if (!ns.contains(name) || ns[name].is_null()) {
      if (spec.required) return Status::InvalidArgument(path + ": required property missing");
      continue;
    }
    NS_RETURN_IF_ERROR(CheckField(path, ns[name], spec));
  }
  if (!schema.allow_unknown_fields) {
    for (const auto& [name, v] : ns.items()) {
      if (!schema.fields.count(name)) {
        return Status::InvalidArgument(schema.for_type + "." + name +
                                       ": not a field of the schema for '" + schema.for_type + "'");
      }
    }
  }
  return Status::OK();
}

}  // namespace nodespace::schema
