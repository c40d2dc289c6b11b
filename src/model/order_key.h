// Sibling order keys: strings that sort bytewise in sibling order and allow a
// new key between any two without renumbering the others.
//
// A key is an integer part followed by an optional fraction, all in the 62
// digits 0-9A-Za-z (ASCII order = digit order). The integer part's first
// character encodes its length ('a' = 1 digit, 'b' = 2, ...; 'Z' = 1 digit,
// 'Y' = 2, ... for the keys below "a0"), so appending or prepending n siblings
// costs O(log n) characters. Inserting repeatedly at the same spot grows the
// fraction by about one character per six inserts; when a key would exceed the
// configured length the caller renumbers the siblings (RenumberedKeys).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::order_key {

// A key strictly between `before` and `after`; an empty argument is an open
// end. Requires before < after when both are given.
Result<std::string> Between(std::string_view before, std::string_view after);

// `count` evenly growing keys for renumbering a sibling list (short integers).
std::vector<std::string> RenumberedKeys(size_t count);

// Whether `key` is well-formed (digits only, valid integer part, the fraction
// does not end in '0').
bool IsValid(std::string_view key);

}  // namespace nodespace::order_key
