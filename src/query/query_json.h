// Query checking shared by the JSON parser and the engine.
//
// ParseQueryJson, QueryToJson and ValidateQuery are declared in
// nodespace/query.h; this header adds what only the engine needs.
#pragma once

#include "nodespace/query.h"

namespace nodespace::query {

// Checks `query` exactly as ValidateQuery does and, when it is valid, rewrites
// the values that have two spellings into one: created_at / modified_at date
// strings ("2024-03-01", RFC 3339) become integer milliseconds, so the engine
// only ever compares integers. ParseQueryJson applies it to every parsed
// query; the engine applies it to queries built in C++. On error `query` may
// be partly rewritten.
Status NormalizeQuery(Query* query, const QueryLimits& limits = {});

}  // namespace nodespace::query
