#include "tools/offline.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "storage/crypto.h"
#include "tools/flags.h"
#include "tools/offline_commands.h"

namespace siteledger::tools {

const char kRegionFlagsHelp[] =
    R"(Region flags (as siteledgerd's):
  --region NAME           the region (default us)
  --data DIR              the region's database folder (default ./data/<region>)
  --master-key-file PATH  the region's master key (default master-<region>.key
                          beside --data)
  --key-store DIR         the region's key store (default DIR.keys)
)";

std::vector<std::string> OfflineFlags(std::vector<std::string> own) {
  own.insert(own.begin(), kRegionFlags.begin(), kRegionFlags.end());
  return own;
}

storage::StoreOptions RegionOptions(const Flags& f, const Clock& clock) {
  storage::StoreOptions options;
  options.region = f.Get("region", "us");
  options.data = f.Get("data", "data/" + options.region);
  options.key_store = f.Get("key-store");
  options.master_key_file = f.Get("master-key-file");
  options.clock = &clock;
  return options;
}

ReadOnlyRegion::~ReadOnlyRegion() {
  store.reset();
  if (!scratch.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch,
                                ec);  // a temporary folder: best effort
  }
}

Result<std::unique_ptr<ReadOnlyRegion>> OpenReadOnly(const Flags& f,
                                                     const Clock& clock) {
  auto region = std::make_unique<ReadOnlyRegion>();
  // RocksDB's info logs: in a private temporary folder, never in the
  // region's folders.
  std::error_code ec;
  std::string pattern =
      (std::filesystem::temp_directory_path(ec) / "siteledger-offline-XXXXXX")
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Err(Status::IOError("creating a temporary folder " + pattern + ": " +
                               std::strerror(errno) +
                               " (set TMPDIR to a writable folder)"));
  }
  region->scratch = pattern;
  auto store =
      storage::Store::OpenReadOnly(RegionOptions(f, clock), region->scratch);
  if (!store) {
    if (store.error().code() == StatusCode::kIOError) {
      // Beside a live server: a WAL or blob file it removed meanwhile.
      return Err(Status::IOError(
          store.error().message() +
          " (if siteledgerd is running on it, it may have just removed that "
          "file: run the command again)"));
    }
    return Err(store.error());
  }
  region->store = std::move(*store);
  return region;
}

namespace {

// True when another process holds the RocksDB lock of `folder` (RocksDB
// locks its LOCK file with fcntl). Asked with F_GETLK, which takes no lock
// and creates nothing.
bool LockedByAnotherProcess(const std::filesystem::path& folder) {
  const std::filesystem::path lock = folder / "LOCK";
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no database yet, or no lock file
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  const bool locked = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

}  // namespace

Result<std::unique_ptr<storage::Store>> OpenOffline(
    const Flags& f, const Clock& clock, const std::string& command,
    const std::string& what_instead) {
  storage::StoreOptions options = RegionOptions(f, clock);
  std::filesystem::path key_store = options.key_store;
  if (key_store.empty()) key_store = options.data.string() + ".keys";
  for (const auto& folder : {options.data, key_store}) {
    if (LockedByAnotherProcess(folder)) {
      return Err(Status::Unavailable(
          "siteledgerd is running on " + folder.string() + ": stop it first (" +
          command + " writes)" +
          (what_instead.empty() ? std::string() : ", or " + what_instead)));
    }
  }
  auto store = storage::Store::Open(std::move(options));
  if (!store) return Err(store.error());
  return std::move(*store);
}

Result<std::vector<storage::TenantRecord>> SelectTenants(
    storage::Store& store, const std::string& client_key) {
  std::vector<storage::TenantRecord> out;
  if (!client_key.empty()) {
    auto rec = store.registry().GetByClientKey(client_key);
    if (!rec) {
      if (rec.error().code() == StatusCode::kNotFound) {
        return Err(Status::NotFound("no tenant with clientKey " + client_key +
                                    " in region " + store.options().region +
                                    " (" + store.options().data.string() +
                                    ")"));
      }
      return Err(rec.error());
    }
    out.push_back(std::move(*rec));
    return out;
  }
  TenantId after(0);
  for (;;) {
    auto page = store.registry().List(after, 1000);
    if (!page) return Err(page.error());
    for (auto& rec : *page) out.push_back(std::move(rec));
    if (page->size() < 1000) return out;
    after = out.back().id;
  }
}

std::optional<std::string> NothingToCheck(const storage::TenantRecord& rec) {
  if (rec.state == storage::LifecycleState::kPurged) {
    return std::string("purged: its data key was destroyed");
  }
  if (rec.residency.state == storage::ResidencyState::kGone) {
    return std::string("a purged copy of a tenant homed in ") + rec.home_region;
  }
  return std::nullopt;
}

std::string TenantName(const storage::TenantRecord& rec) {
  return "tenant " + std::to_string(rec.id.value()) + " (" +
         (rec.client_key.empty() ? std::string("no clientKey")
                                 : rec.client_key) +
         ")";
}

std::vector<ViewDifference> CompareViews(const projections::TenantState& stored,
                                         const projections::TenantState& folded,
                                         size_t max, size_t* total) {
  std::map<projections::ViewKey, std::string> problems;
  stored.ForEachText([&](const projections::ViewKey& key, Sequence version,
                         const std::string& text) {
    Sequence log_version;
    const std::string* log_text = folded.Text(key, &log_version);
    if (log_text == nullptr) {
      problems[key] = "stored, but the log has no such view";
    } else if (*log_text != text) {
      problems[key] = "its document differs from the log's";
    } else if (log_version != version) {
      problems[key] = "its version is " + std::to_string(version.value()) +
                      ", the log's " + std::to_string(log_version.value());
    }
  });
  folded.ForEachText(
      [&](const projections::ViewKey& key, Sequence, const std::string&) {
        if (!stored.Contains(key)) problems[key] = "missing: the log has it";
      });
  if (total != nullptr) *total = problems.size();
  std::vector<ViewDifference> out;
  for (auto& [key, problem] : problems) {
    if (out.size() >= max) break;
    out.push_back(
        {std::string(projections::ViewKindName(key.kind)) + "/" + key.id,
         std::move(problem)});
  }
  return out;
}

Result<ViewsCheck> CheckViews(projections::Projector& projector,
                              storage::EventLog& log,
                              const storage::TenantRecord& rec,
                              size_t max_differences) {
  ViewsCheck check;
  auto head = log.GetHead(rec.id);
  if (!head) return Err(head.error());
  check.seq = head->seq;
  if (rec.residency.state == storage::ResidencyState::kIncoming) {
    check.seq = Sequence(std::min(rec.residency.folded_seq, head->seq.value()));
  }
  auto stored = projector.CurrentViews(rec.id);
  if (!stored) return Err(stored.error());
  projections::TenantState folded;
  if (check.seq.value() > 0) {
    auto state = projector.StateAt(rec.id, check.seq, /*from_history=*/false);
    if (!state) return Err(state.error());
    folded = std::move(*state);
  }
  check.views = stored->size();
  check.stored_digest = stored->Digest();
  check.log_digest = folded.Digest();
  check.differences =
      CompareViews(*stored, folded, max_differences, &check.total_differences);
  if (rec.residency.state != storage::ResidencyState::kIncoming) {
    auto index = projector.VerifyIndex(rec.id);
    if (!index) return Err(index.error());
    check.index = std::move(*index);
  }
  return check;
}

std::string IndexProblem(const storage::IndexReport& report) {
  return report.first_problem + " (rows missing " +
         std::to_string(report.missing) + ", extra " +
         std::to_string(report.extra) + ", different " +
         std::to_string(report.different) + ", unparsable " +
         std::to_string(report.unparsable) + ")";
}

void ClearProgressLine() {
  if (::isatty(STDERR_FILENO) == 1) std::fputs("\r\033[K", stderr);
}

Status AuditOffline(storage::Store& store, const storage::TenantRecord& rec,
                    std::string action, std::string outcome,
                    std::string detail) {
  storage::AuditRecord r;
  r.actor = "system";
  r.action = std::move(action);
  r.tenant = rec.id;
  r.client_key = rec.client_key;
  r.outcome = std::move(outcome);
  r.detail = std::move(detail) + " (siteledger, offline, uid " +
             std::to_string(::getuid()) + ")";
  auto appended = store.audit().Append(std::move(r));
  if (!appended) return appended.error();
  return Status::Ok();
}

int OfflineFail(const std::string& message, int status) {
  std::fprintf(stderr, "siteledger: %s\n", message.c_str());
  return status;
}

std::string HexOf(const Hash& hash) { return storage::ToHex(hash); }

}  // namespace siteledger::tools
