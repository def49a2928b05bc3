#pragma once

// Binds a region's database, key store and master key to each other, so that
// a server started with another master key or without its key store refuses
// to start instead of answering every request as if the tenants were gone.

#include <filesystem>

#include "storage/base/status.h"
#include "storage/key_store.h"
#include "storage/master_key.h"
#include "storage/tenant_registry.h"

namespace siteledger::storage::internal {

class Database;

struct RegionPaths {
  std::filesystem::path data;
  std::filesystem::path key_store;
  std::filesystem::path master_key_file;
};

// True if any tenant (id 1 and up) has a row in the tenants family: an
// installation was begun at least once. IOError. Any thread.
Result<bool> HasTenants(Database& database);

// Checks, or on first open writes, the binding (formats.md, section 8):
//   - the database's identity row (`0`·`I`): a random 16-byte identity and
//     a check value of the master key over it;
//   - the key store's identity row, equal to the database's.
// A database without an identity row (new, or from before identities) gets
// one: the key store's identity if it has one, else a new one; but only
// after the master key opens the first tenant's record and the key store
// holds the data key of the first tenant that is not purged. Errors, naming
// the file at fault:
//   InvalidArgument  the master key's check value does not match, or it
//                    does not open a tenant's record; the key store has
//                    another identity; the key store has no identity (or
//                    lacks a live tenant's key) while the database has
//                    tenants
//   Corruption       a malformed identity row
//   IOError          reading or writing failed
// Writes the key store's row before the database's, so that a crash between
// the two is completed on the next open. With `check_only` (a read-only
// open), makes the same checks and writes nothing: a binding that is not
// written yet is left so. Any thread; call once per open.
Status BindRegion(Database& database, KeyStore& keys, const MasterKey& master,
                  const TenantRegistry& registry, const RegionPaths& paths,
                  bool check_only = false);

}  // namespace siteledger::storage::internal
