#pragma once

#include <filesystem>
#include <memory>
#include <unordered_map>

#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/crypto.h"
#include "storage/master_key.h"

namespace siteledger::storage::internal {
class KeyDatabase;
}

namespace siteledger::storage {

// KeyStore holds one data key per tenant, wrapped by the master key, in a
// small RocksDB database of its own beside the region's database (by
// convention `<data>.keys/`). It is never part of a data backup: a backup of
// the data holds only ciphertext, so destroying a tenant's key here makes every
// copy of that tenant's data unreadable. Safe for concurrent use.
class KeyStore {
 public:
  // Opens (or creates) the key store at `path`, unwrapping keys with a key
  // derived from `master`. IOError (naming the path) if RocksDB cannot open
  // it. Any thread.
  static Result<std::unique_ptr<KeyStore>> Open(
      const std::filesystem::path& path, const MasterKey& master);
  ~KeyStore();

  // Generates and stores a new key for `tenant`. Conflict if it has one, or
  // had one that was destroyed (keys are never replaced); Internal if the
  // random generator fails; IOError. Any thread.
  Status Create(TenantId tenant);

  // The tenant's key. NotFound, saying so, if it never had one or if it was
  // destroyed (then its data can no longer be decrypted). The key stays valid
  // while the caller holds it, even if destroyed meanwhile. Corruption if
  // the wrapped key does not open under the master key; IOError. Any
  // thread; cached after the first read.
  Result<std::shared_ptr<const AeadKey>> Get(TenantId tenant);

  // Destroys the tenant's key for good: the wrapped key is deleted, then
  // flushed and compacted out of the key store's files. Idempotent. IOError
  // if RocksDB fails (the key may then still be on disk: call again). Any
  // thread; slow (it compacts).
  Status Destroy(TenantId tenant, Timestamp now);

  // True if `tenant`'s key was destroyed (as opposed to never created).
  // IOError. Any thread.
  Result<bool> Destroyed(TenantId tenant);

 private:
  KeyStore(std::unique_ptr<internal::KeyDatabase> db, AeadKey wrap_key);

  std::unique_ptr<internal::KeyDatabase> db_;
  const AeadKey wrap_key_;
  Mutex mu_;
  std::unordered_map<TenantId, std::shared_ptr<const AeadKey>> cache_
      GUARDED_BY(mu_);
};

}  // namespace siteledger::storage
