#pragma once

// The folders that hold a region's database and key store belong to the
// server's user alone: mode 0700, files 0600, whatever the umask it was
// started with.

#include <filesystem>
#include <string_view>

#include "storage/base/status.h"

namespace siteledger::storage::internal {

// Sets the process umask to 077, for good: RocksDB creates files (tables,
// WAL, MANIFEST, info logs) for as long as a database is open, so no narrower
// window would cover them. Never fails; not safe against a thread creating
// files at the same moment (call it at startup).
void RestrictUmask();

// Makes `path` a folder only its owner may use, before RocksDB opens it:
//   - absent: creates it (and missing parents) with mode 0700;
//   - present: PermissionDenied, naming the path and the fix
//     (`chmod -R go-rwx <path>`), if group or others have any permission bit
//     on it; otherwise any file in it that group or others may use is
//     narrowed to its owner's bits (files of an older version).
// `what` names the folder in messages ("data folder"). IOError (naming the
// path) if it cannot be created, read or changed, or is not a folder. Any
// thread.
Status PreparePrivateFolder(const std::filesystem::path& path,
                            std::string_view what);

}  // namespace siteledger::storage::internal
