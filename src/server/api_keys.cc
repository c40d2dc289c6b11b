#include "server/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "env/env.h"
#include "model/ids.h"

namespace nodespace::server {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

std::optional<Role> ParseRole(const std::string& name) {
  if (name == "read") return Role::kRead;
  if (name == "write") return Role::kWrite;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

namespace {

std::string Hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

constexpr std::string_view kPrefix = "nsk_";
constexpr size_t kIdBytes = 4;
constexpr size_t kSecretBytes = 32;

// "nsk_<id>_<secret>" -> id, or "" when malformed.
std::string KeyIdOf(const std::string& key) {
  const size_t id_len = kIdBytes * 2;
  if (key.size() != kPrefix.size() + id_len + 1 + kSecretBytes * 2) return "";
  if (key.compare(0, kPrefix.size(), kPrefix) != 0 || key[kPrefix.size() + id_len] != '_') {
    return "";
  }
  return key.substr(kPrefix.size(), id_len);
}

nlohmann::json KeyToJson(const ApiKey& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"role", RoleName(k.role)},
          {"scopes", k.scopes},
          {"sha256", k.sha256_hex},
          {"created_at_ms", k.created_at_ms},
          {"revoked_at_ms", k.revoked_at_ms}};
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

ApiKeyStore::ApiKeyStore(std::string path) : path_(std::move(path)) {}

Status ApiKeyStore::ReloadIfChangedLocked() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    keys_.clear();
    loaded_mtime_ns_ = 0;
    loaded_size_ = 0;
    return Status::OK();
  }
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime_ns == loaded_mtime_ns_ && st.st_size == loaded_size_) return Status::OK();
  auto bytes = Env::Default()->ReadFile(path_);
  if (!bytes.ok()) return bytes.status();
  auto doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return Status::Corruption(path_ + ": not an API key file (expected {\"keys\": [...]})");
  }
  std::vector<ApiKey> keys;
  for (const auto& k : doc["keys"]) {
    ApiKey key;
    auto role = ParseRole(k.value("role", ""));
    if (!k.is_object() || !role || !k.contains("id") || !k.contains("sha256")) {
      return Status::Corruption(path_ + ": malformed key record");
    }
    key.id = k["id"].get<std::string>();
    key.name = k.value("name", "");
    key.role = *role;
    key.scopes = k.value("scopes", std::vector<std::string>{});
    key.sha256_hex = k["sha256"].get<std::string>();
    key.created_at_ms = k.value("created_at_ms", int64_t{0});
    key.revoked_at_ms = k.value("revoked_at_ms", int64_t{0});
    keys.push_back(std::move(key));
  }
  keys_ = std::move(keys);
  loaded_mtime_ns_ = mtime_ns;
  loaded_size_ = st.st_size;
  return Status::OK();
}

Status ApiKeyStore::SaveLocked() {
  nlohmann::json doc = {{"keys", nlohmann::json::array()}};
  for (const ApiKey& k : keys_) doc["keys"].push_back(KeyToJson(k));
  Status s = WriteFileAtomically(*Env::Default(), path_, doc.dump(2) + "\n");
  if (!s.ok()) return s;
  ::chmod(path_.c_str(), 0600);
  loaded_mtime_ns_ = -1;  // reread our own write's stat on the next check
  return ReloadIfChangedLocked();
}

Result<std::string> ApiKeyStore::Create(const std::string& name, Role role,
                                        std::vector<std::string> scopes) {
  std::lock_guard lock(mu_);
  if (Status s = ReloadIfChangedLocked(); !s.ok()) return s;
  unsigned char random[kIdBytes + kSecretBytes];
  if (RAND_bytes(random, sizeof random) != 1) {
    return Status::IOError("no random bytes from the system for a new key");
  }
  ApiKey key;
  key.id = Hex(random, kIdBytes);
  for (const ApiKey& k : keys_) {
    if (k.id == key.id) return Status::AlreadyExists("key id collision; try again");
  }
  const std::string text =
      std::string(kPrefix) + key.id + "_" + Hex(random + kIdBytes, kSecretBytes);
  key.name = name;
  key.role = role;
  key.scopes = std::move(scopes);
  key.sha256_hex = Sha256Hex(text);
  key.created_at_ms = ids::NowMs();
  keys_.push_back(key);
  if (Status s = SaveLocked(); !s.ok()) return s;
  return text;
}

Status ApiKeyStore::Revoke(const std::string& id) {
  std::lock_guard lock(mu_);
  if (Status s = ReloadIfChangedLocked(); !s.ok()) return s;
  for (ApiKey& k : keys_) {
    if (k.id != id) continue;
    if (k.revoked_at_ms == 0) k.revoked_at_ms = ids::NowMs();
    return SaveLocked();
  }
  return Status::NotFound("no API key with id '" + id + "'");
}

Result<std::vector<ApiKey>> ApiKeyStore::List() {
  std::lock_guard lock(mu_);
  if (Status s = ReloadIfChangedLocked(); !s.ok()) return s;
  return keys_;
}

bool ApiKeyStore::AnyActive() {
  auto keys = List();
  if (!keys.ok()) return true;  // an unreadable key file must not open the server
  for (const ApiKey& k : *keys) {
    if (k.revoked_at_ms == 0) return true;
  }
  return false;
}

Result<Principal> ApiKeyStore::Verify(const std::string& key_text) {
  const std::string id = KeyIdOf(key_text);
  const std::string hash = Sha256Hex(key_text);
  std::lock_guard lock(mu_);
  const int64_t now = ids::NowMs();
  if (now - checked_at_ms_ >= 500) {
    if (Status s = ReloadIfChangedLocked(); !s.ok()) return s;
    checked_at_ms_ = now;
  }
  for (const ApiKey& k : keys_) {
    if (id.empty() || k.id != id || k.sha256_hex.size() != hash.size()) continue;
    if (CRYPTO_memcmp(k.sha256_hex.data(), hash.data(), hash.size()) != 0) break;
    if (k.revoked_at_ms != 0) break;
    return Principal{k.id, k.role, k.scopes};
  }
  return Status::InvalidArgument("invalid API key");
}

}  // namespace nodespace::server
