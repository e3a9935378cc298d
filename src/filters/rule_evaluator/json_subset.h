// JSON comparison for rules' match_args and match_metadata: a rule names some members, and the
// call's arguments (or metadata) must carry each of them with an equal value. Equality is by
// meaning, not by spelling, so a rule written by hand matches what an SDK serialized.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>

namespace aiw {

// How rules and the facts they are compared with are parsed: iteratively (a hostile, deeply
// nested body cannot exhaust the stack). Not with kParseFullPrecisionFlag: RapidJSON 1.1's
// full-precision path misreads some zeros ("0e98") and hands zero to clz() on them (undefined
// behaviour, found by tests/fuzz/rules_json_fuzz.cc); both sides of a comparison go through the
// same default conversion, so equal spellings still compare equal.
inline constexpr unsigned kRuleJsonParseFlags = rapidjson::kParseIterativeFlag;

// Deep equality: numbers by value (1 == 1.0 == 1e0; integers beyond 2^53 compared exactly),
// strings byte for byte, objects by members regardless of order, arrays element by element in
// order. Recursion is bounded by the shallower of the two values.
bool jsonEqual(const rapidjson::Value& a, const rapidjson::Value& b);

// Whether `subject` is an object holding every member of the object `pattern` with a
// jsonEqual value (members of `subject` that `pattern` does not name are ignored). False when
// either is not an object.
bool jsonContains(const rapidjson::Value& pattern, const rapidjson::Value& subject);

// The nesting depth of `v` (a scalar is 0, [] or {} is 1, [[1]] is 2), counted no further than
// `limit` + 1: enough to refuse configuration nested deeper than the recursion above should go.
size_t jsonDepth(const rapidjson::Value& v, size_t limit);

}  // namespace aiw
