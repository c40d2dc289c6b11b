// API keys: who may call the server, with which role, on which subtrees.
//
// A key is shown once, when created ("nsk_<id>_<64 hex digits>": 32 random
// bytes); the store keeps only its SHA-256, so a stolen key file grants
// nothing. Verification looks the key's record up by its id and compares
// hashes in constant time. The store is the JSON file
// <database>/api-keys.json, written atomically; a running server rereads
// it when it changes, so `nodespace keys create|revoke` takes effect at once.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::server {

enum class Role : uint8_t { kRead = 0, kWrite = 1, kAdmin = 2 };
const char* RoleName(Role role);  // "read", "write", "admin"
std::optional<Role> ParseRole(const std::string& name);

struct ApiKey {
  std::string id;    // public part, e.g. "3f9a0c12"
  std::string name;  // what the operator called it
  Role role = Role::kRead;
  // Node ids whose subtrees the key may touch; empty: the whole database.
  std::vector<std::string> scopes;
  std::string sha256_hex;  // of the whole key text
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0: active
};

// Who a request acts for, once its key checked out.
struct Principal {
  std::string key_id;  // "" for the keyless loopback mode
  Role role = Role::kAdmin;
  std::vector<std::string> scopes;
  bool scoped() const { return !scopes.empty(); }
};

class ApiKeyStore {
 public:
  explicit ApiKeyStore(std::string path);

  // Creates a key; returns its full text (the only time it is available).
  Result<std::string> Create(const std::string& name, Role role, std::vector<std::string> scopes);
  // NotFound for an unknown id; revoking twice is fine.
  Status Revoke(const std::string& id);
  Result<std::vector<ApiKey>> List();
  // True when at least one active key exists.
  bool AnyActive();

  // The principal `key_text` authenticates. A malformed, unknown or revoked
  // key is InvalidArgument("invalid API key"); an unreadable key file is
  // its own error (the server then refuses the request too).
  Result<Principal> Verify(const std::string& key_text);

 private:
  Status ReloadIfChangedLocked();
  Status SaveLocked();

  const std::string path_;
  std::mutex mu_;
  std::vector<ApiKey> keys_;      // guarded by mu_
  int64_t loaded_mtime_ns_ = -1;  // guarded by mu_
  int64_t loaded_size_ = -1;      // guarded by mu_
  int64_t checked_at_ms_ = 0;     // guarded by mu_: stat at most every 500 ms
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace nodespace::server
