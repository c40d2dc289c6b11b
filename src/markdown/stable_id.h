// Deterministic node ids for imported Markdown, so that importing the same
// folder twice addresses the same nodes.
#pragma once

#include <string>
#include <string_view>

namespace nodespace::markdown {

// A UUID-shaped id (version nibble 8: "custom", RFC 9562) hashed from `key`.
// The same key always gives the same id; distinct keys collide with
// probability about 2^-122.
std::string StableId(std::string_view key);

// Whether `id` has the shape StableId produces (version 8, RFC variant).
// Ordinary nodes carry UUIDv7 ids, so this tells imported blocks apart.
bool IsStableId(std::string_view id);

// 64-bit FNV-1a of `data`, as 16 hex digits: the change fingerprint of a file.
std::string ContentHash(std::string_view data);

}  // namespace nodespace::markdown
