// Typed properties: schemas that validate the properties of one node type.
//
// A node's properties are a JSON object; the keys under the node's own type
// ({"task": {"status": "open"}}) are checked against the schema for that
// type. Built-in schemas exist for `task` and `date`; users add their own with
// nodes of type `schema`:
//   {"schema": {"for": "book", "fields": {"pages": {"type": "integer",
//               "required": true}, "state": {"type": "enum", "values": ["a"]}}}}
// Field types: string, number, integer, boolean, date (YYYY-MM-DD),
// datetime (ISO 8601), enum (with "values"), array, object.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "nodespace/status.h"

namespace nodespace::schema {

struct FieldSpec {
  std::string type;
  bool required = false;
  std::vector<std::string> values;  // for enum
};

struct TypeSchema {
  std::string for_type;
  std::map<std::string, FieldSpec> fields;
  bool allow_unknown_fields = true;
};

// Parses the `schema` object of a schema node's properties.
Result<TypeSchema> ParseSchemaNode(const nlohmann::json& properties);

// The built-in schema for `node_type`, or nullptr.
const TypeSchema* BuiltinSchema(const std::string& node_type);

// Checks properties (already parsed, must be an object) of a node of
// `schema.for_type`. Errors name the property path: "task.status: ...".
Status Validate(const nlohmann::json& properties, const TypeSchema& schema);

}  // namespace nodespace::schema
