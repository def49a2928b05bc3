#pragma once

// What the offline subcommands (verify, replay, export, import) share: the
// region flags, opening a region read-only (beside a
// running siteledgerd, or a stopped region) or for writing (offline only),
// choosing tenants, comparing views, and a progress line.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "projections/projector.h"
#include "projections/views.h"
#include "storage/base/clock.h"
#include "storage/store.h"
#include "tools/flags.h"

namespace siteledger::tools {

// The flags that name a region's files, as siteledgerd's own: --region
// (default us), --data (default ./data/<region>), --master-key-file
// (default master-<region>.key beside --data), and --key-store (default
// the data folder's path plus .keys, which siteledgerd always uses).
inline const std::vector<std::string> kRegionFlags = {
    "region", "data", "master-key-file", "key-store"};
// Their help text, for the subcommands' --help.
extern const char kRegionFlagsHelp[];

// The region `f` names, paths filled in as siteledgerd fills them.
storage::StoreOptions RegionOptions(const Flags& f, const Clock& clock);

// A region opened read-only (Store::OpenReadOnly), with the private
// scratch folder RocksDB keeps its info logs in (removed when it
// goes). Destroy the store before anything else of it.
struct ReadOnlyRegion {
  ReadOnlyRegion() = default;
  ~ReadOnlyRegion();
  ReadOnlyRegion(const ReadOnlyRegion&) = delete;
  ReadOnlyRegion& operator=(const ReadOnlyRegion&) = delete;

  std::filesystem::path scratch;
  std::unique_ptr<storage::Store> store;
};

// Opens the region `f` names read-only; it may be live or stopped. Errors
// carry what to do.
Result<std::unique_ptr<ReadOnlyRegion>> OpenReadOnly(const Flags& f,
                                                     const Clock& clock);

// Opens the region `f` names for writing: only when no siteledgerd holds
// it. Unavailable, naming the folder and `what_instead`, when a process
// holds its lock (checked before anything is opened or created); the
// errors of Store::Open.
Result<std::unique_ptr<storage::Store>> OpenOffline(
    const Flags& f, const Clock& clock, const std::string& command,
    const std::string& what_instead);

// The tenants to work on: the one whose clientKey is `client_key`, or every
// tenant of the region (in id order) when it is empty. NotFound naming the
// clientKey; the registry's errors.
Result<std::vector<storage::TenantRecord>> SelectTenants(
    storage::Store& store, const std::string& client_key);

// Why a tenant has nothing left to check (purged here, or a tombstone of a
// copy purged), or nullopt.
std::optional<std::string> NothingToCheck(const storage::TenantRecord& rec);

// "tenant 7 (CLIENTKEY)".
std::string TenantName(const storage::TenantRecord& rec);

// One view that differs between the stored views and a fold of the log:
// "site/abc" and what differs.
struct ViewDifference {
  std::string view;
  std::string problem;
};
// Every difference between `stored` and `folded`, in view-key order (at
// most `max`, and `total` says how many there were). Compares each view's
// document (canonical text) and version. Never fails.
std::vector<ViewDifference> CompareViews(const projections::TenantState& stored,
                                         const projections::TenantState& folded,
                                         size_t max, size_t* total);

// The stored views of a tenant, and its event index, against a fold of its
// log that shares nothing with them (Projector::StateAt from the log), at the
// seq the views stand after: the head, or for a copy still arriving (residency
// incoming) the last seq folded.
struct ViewsCheck {
  Sequence seq;
  size_t views = 0;  // stored
  Hash stored_digest{};
  Hash log_digest{};
  std::vector<ViewDifference> differences;  // the first few
  size_t total_differences = 0;
  // The event index against the log (Projector::VerifyIndex); unset for a
  // copy still arriving, whose index stands after the seq it folded.
  std::optional<storage::IndexReport> index;
  bool views_ok() const {
    return total_differences == 0 && stored_digest == log_digest;
  }
  bool ok() const { return views_ok() && (!index || index->ok); }
};
// What is wrong with an event index: the first bad row and the counts.
std::string IndexProblem(const storage::IndexReport& report);
// The common read errors of the projector (NotFound once the data key is
// destroyed, Corruption, IOError). Holds the tenant's whole state twice.
Result<ViewsCheck> CheckViews(projections::Projector& projector,
                              storage::EventLog& log,
                              const storage::TenantRecord& rec,
                              size_t max_differences);

// Clears the progress line (tools/progress.h) on a terminal before a line
// of output, so that the two do not mix; its next update draws it again.
// Nothing when stderr is not a terminal.
void ClearProgressLine();

// Records what an offline command changed in the region's audit log:
// actor "system", `action` ("tool.import", "tool.views-rebuilt"), the
// tenant, and `detail` with the user id that ran the tool. The audit log's
// errors (IOError, Corruption of its head).
Status AuditOffline(storage::Store& store, const storage::TenantRecord& rec,
                    std::string action, std::string outcome,
                    std::string detail);

// Prints "siteledger: MESSAGE" on stderr; returns `status`.
int OfflineFail(const std::string& message, int status);

// The hex of a hash, for output.
std::string HexOf(const Hash& hash);

}  // namespace siteledger::tools
