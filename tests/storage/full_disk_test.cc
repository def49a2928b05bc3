// A full disk (issue 11, item 7): a write that meets ENOSPC fails with
// QuotaExceeded and never aborts the process; the disk reserve refuses
// writes before RocksDB meets a full disk; a reopen on a nearly full disk
// comes up; nothing acknowledged is lost. The tests that need a real small
// file system mount a tmpfs (root only) and are skipped with a message
// otherwise.

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "tests/storage/fault_fs.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

using testing::Ev;
using testing::Rig;

// A tmpfs of `size` on a fresh folder; TMPDIR points into it while the
// object lives, so that a Rig made meanwhile keeps its files there.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& size) {
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0,
                       ("size=" + size + ",mode=0700").c_str()) == 0;
    if (!mounted_) {
      error_ = std::strerror(errno);
      return;
    }
    const char* old = std::getenv("TMPDIR");
    if (old != nullptr) old_tmpdir_ = old;
    ::setenv("TMPDIR", dir_.path().c_str(), 1);
  }
  ~SmallDisk() {
    if (!mounted_) return;
    if (old_tmpdir_.empty()) {
      ::unsetenv("TMPDIR");
    } else {
      ::setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    }
    ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT,
                   ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  uint64_t free_bytes() const {
    struct statvfs fs {};
    ::statvfs(dir_.path().c_str(), &fs);
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

 private:
  testing::TempDir dir_;
  bool mounted_ = false;
  std::string error_;
  std::string old_tmpdir_;
};

struct Outcome {
  std::mutex mu;
  std::map<uint64_t, std::map<uint64_t, std::string>> acknowledged;
  std::map<StatusCode, int> errors;
  std::string message;
};

// 8 writers append 2 KiB events to their own tenants until each has seen
// `failures` failed appends, while other threads write as the server's do
// (synced row writes, unsynced access-log rows).
void WriteUntilFull(Rig& rig, const std::vector<TenantId>& tenants,
                    int failures, Outcome& out) {
  std::atomic<bool> done{false};
  std::thread snapshots([&] {
    while (!done) {
      rig.log
          ->WriteRows(tenants[0],
                      {ExtraWrite{Family::kSnapshots, WriteOp::kPut, "s",
                                  std::string(4096, 's')}},
                      /*sync=*/true)
          .IgnoreError();  // refused once the disk is full: expected
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::thread access([&] {
    for (uint64_t i = 0; !done; ++i) {
      rocksdb::WriteBatch batch;
      batch
          .Put(rig.db->cf(Family::kAccessLog), "a" + std::to_string(i),
               std::string(300, 'x'))
          .PermitUncheckedError();
      rig.db->db()
          ->Write(rocksdb::WriteOptions(), &batch)
          .PermitUncheckedError();  // as AccessLog: losing rows is allowed
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> threads;
  for (size_t w = 0; w < tenants.size(); ++w) {
    threads.emplace_back([&, w] {
      int failed = 0;
      for (int i = 0; i < 100000 && failed < failures; ++i) {
        std::string payload = std::to_string(w) + "." + std::to_string(i);
        payload.resize(2048, static_cast<char>('a' + i % 26));
        auto r = rig.log->Append(tenants[w], std::nullopt,
                                 {Ev("disk.test", payload)});
        std::lock_guard lock(out.mu);
        if (r) {
          out.acknowledged[tenants[w].value()][r->first.value()] = payload;
        } else {
          ++out.errors[r.error().code()];
          out.message = r.error().message();
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  snapshots.join();
  access.join();
}

void RequireAcknowledged(Rig& rig, const Outcome& out) {
  for (const auto& [tenant, events] : out.acknowledged) {
    for (const auto& [seq, payload] : events) {
      auto read = rig.log->Read(TenantId(tenant), Sequence(seq), 1);
      REQUIRE(read.has_value());
      REQUIRE(read->size() == 1);
      REQUIRE((*read)[0].payload == payload);
    }
    testing::RequireChainVerifies(rig, TenantId(tenant));
  }
}

std::vector<TenantId> Tenants(Rig& rig) {
  std::vector<TenantId> tenants;
  for (int i = 0; i < 8; ++i) {
    tenants.push_back(rig.NewTenant("full" + std::to_string(i)));
  }
  return tenants;
}

// Regression: RocksDB's own info-log writer asserted
// (sync_without_flush_called_) on the line after its first failed write, and
// RocksDB logs every failed write and every open: a full disk aborted the
// process at once, and again on every restart.
TEST_CASE("A write that meets a full disk fails with 507's code, not an abort",
          "[storage][full_disk]") {
  SmallDisk disk("5m");
  if (!disk.mounted()) {
    WARN("skipped: mounting a tmpfs needs root (" << disk.error() << ")");
    return;
  }
  Rig rig;  // no reserve: RocksDB meets ENOSPC itself
  const std::vector<TenantId> tenants = Tenants(rig);
  Outcome out;
  WriteUntilFull(rig, tenants, 10, out);
  INFO(out.message);
  REQUIRE(out.errors[StatusCode::kQuotaExceeded] > 0);
  CHECK(out.errors.count(StatusCode::kConflict) == 0);
  CHECK(out.message.find("/") == std::string::npos);  // no path in a 507
  rig.Close();
  // A reopen on the full disk, which logs before anything else, comes up.
  rig.Open();
  RequireAcknowledged(rig, out);
  rig.Close();
  REQUIRE(disk.Resize("16m"));
  rig.Open();
  RequireAcknowledged(rig, out);
}

TEST_CASE("The disk reserve refuses writes before the disk fills",
          "[storage][full_disk]") {
  SmallDisk disk("12m");
  if (!disk.mounted()) {
    WARN("skipped: mounting a tmpfs needs root (" << disk.error() << ")");
    return;
  }
  constexpr uint64_t kReserve = 3 << 20;
  auto open = [&](Rig& rig) {
    rig.Close();
    internal::DatabaseOptions o;
    o.path = rig.data_path();
    o.clock = &rig.clock;
    o.disk_reserve_bytes = kReserve;
    auto db = internal::Database::Open(o);
    REQUIRE(db.has_value());
    rig.db = std::move(*db);
    auto k = KeyStore::Open(rig.keys_path(), rig.master);
    REQUIRE(k.has_value());
    rig.keys = std::move(*k);
    rig.registry = std::make_unique<TenantRegistry>(
        *rig.db, *rig.keys, rig.master, rig.clock, "us");
    rig.log = std::make_unique<EventLog>(*rig.db, *rig.keys, rig.clock);
  };
  Rig rig;
  open(rig);
  const std::vector<TenantId> tenants = Tenants(rig);
  Outcome out;
  WriteUntilFull(rig, tenants, 5, out);
  INFO(out.message);
  REQUIRE(out.errors[StatusCode::kQuotaExceeded] > 0);
  CHECK(out.errors.size() == 1);
  CHECK(out.message.find("nearly full") != std::string::npos);
  // Refused before the disk was full: what the reserve kept is still free.
  CHECK(disk.free_bytes() > kReserve / 2);
  DiskSpace space = rig.db->disk_space();
  CHECK(space.writes_refused);
  CHECK(space.reserve_bytes == kReserve);
  RequireAcknowledged(rig, out);

  // A restart on the nearly full disk comes up, and still refuses.
  open(rig);
  RequireAcknowledged(rig, out);
  // The restart may free files RocksDB no longer needs (obsolete WAL
  // files), and writes may fill that room; then they are refused again.
  StatusCode refused = StatusCode::kOk;
  for (int i = 0; i < 20000 && refused == StatusCode::kOk; ++i) {
    auto r = rig.log->Append(tenants[1], std::nullopt,
                             {Ev("disk.test", std::string(2048, 'x'))});
    if (!r) refused = r.error().code();
  }
  CHECK(refused == StatusCode::kQuotaExceeded);

  // Space freed: writes go through again at once.
  REQUIRE(disk.Resize("24m"));
  auto more = rig.log->Append(tenants[1], std::nullopt, {Ev("disk.test", "y")});
  REQUIRE(more.has_value());
  CHECK_FALSE(rig.db->disk_space().writes_refused);
}

// Without root: a file system that answers NoSpace past its capacity.
TEST_CASE(
    "Appends refused with NoSpace fail with QuotaExceeded, losing nothing",
    "[storage][full_disk]") {
  auto fs = std::make_shared<testing::NoSpaceFileSystem>(
      rocksdb::FileSystem::Default(), uint64_t{6} << 20);
  Rig rig(fs);
  const std::vector<TenantId> tenants = Tenants(rig);
  Outcome out;
  WriteUntilFull(rig, tenants, 10, out);
  INFO(out.message);
  REQUIRE(fs->refusals() > 0);
  REQUIRE(out.errors[StatusCode::kQuotaExceeded] > 0);
  CHECK(out.errors.count(StatusCode::kConflict) == 0);
  rig.Close();
  fs->set_capacity(uint64_t{64} << 20);
  rig.Open(fs);
  RequireAcknowledged(rig, out);
  REQUIRE(rig.log->Append(tenants[0], std::nullopt, {Ev("disk.test", "z")})
              .has_value());
}

}  // namespace
}  // namespace siteledger::storage
