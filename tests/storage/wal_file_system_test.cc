// The WAL is written over zeros laid ahead of it (wal_file_system.h): the
// zeros must never hide or lose a record, live, after a close, or in a
// crash image.

#include "storage/internal/wal_file_system.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "storage/event_log.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

using internal::WalZeroFillFileSystem;
using testing::Ev;
using testing::Rig;

std::vector<std::filesystem::path> WalFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (WalZeroFillFileSystem::IsWalName(entry.path().string())) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Bytes of zeros at the end of `data`.
size_t ZeroTail(const std::string& data) {
  size_t n = 0;
  while (n < data.size() && data[data.size() - 1 - n] == '\0') ++n;
  return n;
}

TEST_CASE("Only RocksDB's write-ahead logs are recognised",
          "[wal_file_system]") {
  CHECK(WalZeroFillFileSystem::IsWalName("/data/us/000123.log"));
  CHECK(WalZeroFillFileSystem::IsWalName("000004.log"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/LOG"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/LOG.old.1700"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/000123.sst"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/MANIFEST-000005"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/.log"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/us/access.log"));
  CHECK_FALSE(WalZeroFillFileSystem::IsWalName("/data/000123.log/LOG"));
}

TEST_CASE("Zeros are laid ahead in chunks that grow with the file",
          "[wal_file_system]") {
  constexpr uint64_t KiB = 1024;
  constexpr uint64_t MiB = 1024 * KiB;
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(0, 100) == 64 * KiB);
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(64 * KiB, 64 * KiB + 1) ==
        128 * KiB);
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(1 * MiB, 1 * MiB + 1) == 2 * MiB);
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(8 * MiB, 8 * MiB + 1) == 12 * MiB);
  // A write larger than a chunk gets all it needs, in whole log blocks.
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(0, 100 * KiB) == 128 * KiB);
  CHECK(WalZeroFillFileSystem::NextZeroedEnd(64 * KiB, 5 * MiB + 1) ==
        5 * MiB + 32 * KiB);
}

// Appends `appends` batches of events with ~2 KiB payloads over 3 tenants;
// returns what each tenant's log must hold.
std::map<uint64_t, std::vector<std::string>> Fill(
    Rig& rig, const std::vector<TenantId>& tenants, int appends) {
  std::map<uint64_t, std::vector<std::string>> expected;
  for (int i = 0; i < appends; ++i) {
    const TenantId t = tenants[static_cast<size_t>(i) % tenants.size()];
    std::vector<NewEvent> events;
    for (int k = 0; k < 1 + i % 3; ++k) {
      std::string payload = std::to_string(i) + "." + std::to_string(k) + ":";
      payload.resize(2000, static_cast<char>('a' + (i + k) % 26));
      expected[t.value()].push_back(payload);
      events.push_back(Ev("wal.test", std::move(payload)));
    }
    REQUIRE(rig.log->Append(t, std::nullopt, std::move(events)).has_value());
  }
  return expected;
}

void CheckLogs(Rig& rig,
               const std::map<uint64_t, std::vector<std::string>>& expected) {
  for (const auto& [tenant, payloads] : expected) {
    auto read = rig.log->Read(TenantId(tenant), Sequence(1), 10000);
    REQUIRE(read.has_value());
    REQUIRE(read->size() == payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) {
      REQUIRE((*read)[i].payload == payloads[i]);
    }
    testing::RequireChainVerifies(rig, TenantId(tenant));
  }
}

TEST_CASE("A live WAL runs ahead over zeros and is cut to its length on close",
          "[wal_file_system]") {
  Rig rig;
  std::vector<TenantId> tenants = {rig.NewTenant("w1"), rig.NewTenant("w2"),
                                   rig.NewTenant("w3")};
  auto expected = Fill(rig, tenants, 400);  // ~1.6 MB: chunks up to 1 MiB

  auto wals = WalFiles(rig.data_path());
  REQUIRE(!wals.empty());
  const std::string live = ReadFile(wals.back());
  INFO("live WAL " << wals.back() << " of " << live.size() << " bytes");
  CHECK(live.size() % (32 * 1024) == 0);
  CHECK(live.size() >= 1024 * 1024);
  CHECK(ZeroTail(live) > 0);

  rig.Close();
  for (const auto& wal : WalFiles(rig.data_path())) {
    const std::string closed = ReadFile(wal);
    INFO("closed WAL " << wal << " of " << closed.size() << " bytes");
    // A record ends in its payload, never in a block of padding.
    CHECK(ZeroTail(closed) < 32 * 1024);
  }
  rig.Open();
  CheckLogs(rig, expected);
}

// Copies the files of `from`'s open database into `to` (closed), as a
// machine that stopped now would leave them: every append was synced, the
// zeros ahead too.
void CopyImage(Rig& from, Rig& to) {
  to.Close();
  std::filesystem::remove_all(to.data_path());
  std::filesystem::remove_all(to.keys_path());
  std::filesystem::copy(from.data_path(), to.data_path(),
                        std::filesystem::copy_options::recursive);
  std::filesystem::copy(from.keys_path(), to.keys_path(),
                        std::filesystem::copy_options::recursive);
}

TEST_CASE("A crash image whose WAL ends in zeros recovers every record",
          "[wal_file_system][crash]") {
  Rig rig;
  std::vector<TenantId> tenants = {rig.NewTenant("z1"), rig.NewTenant("z2"),
                                   rig.NewTenant("z3")};
  auto expected = Fill(rig, tenants, 250);

  Rig image;
  CopyImage(rig, image);
  auto wals = WalFiles(image.data_path());
  REQUIRE(!wals.empty());
  const std::string tail = ReadFile(wals.back());
  REQUIRE(ZeroTail(tail) > 0);
  // No memtable was flushed: the events exist only in the WAL, so only a
  // replay past nothing but zeros can bring them back.
  for (const auto& entry :
       std::filesystem::directory_iterator(image.data_path())) {
    REQUIRE(entry.path().extension() != ".sst");
  }

  // The strictest recovery: any damage in the WAL fails the open, so the
  // zeros after the last record must read as padding.
  image.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  image.Open();
  CheckLogs(image, expected);
  // The recovered database goes on appending and recovering.
  auto more = Fill(image, tenants, 30);
  image.Reopen();
  for (auto& [tenant, payloads] : more) {
    auto& all = expected[tenant];
    all.insert(all.end(), payloads.begin(), payloads.end());
  }
  CheckLogs(image, expected);
}

TEST_CASE("Strict recovery refuses damage after the last record, not zeros",
          "[wal_file_system][crash]") {
  // The control for the test above: the strict mode does look at the tail.
  Rig rig;
  std::vector<TenantId> tenants = {rig.NewTenant("d1")};
  auto expected = Fill(rig, tenants, 20);
  Rig image;
  CopyImage(rig, image);
  auto wals = WalFiles(image.data_path());
  REQUIRE(!wals.empty());
  std::string wal = ReadFile(wals.back());
  const size_t zeros = ZeroTail(wal);
  REQUIRE(zeros > 64);
  // Bytes that are neither a record nor padding, at the start of the log
  // block after the last record (a zero header makes RocksDB's reader skip
  // the rest of its block, so damage must start a block to be seen).
  constexpr size_t kBlock = 32 * 1024;
  const size_t next_block = (wal.size() - zeros + kBlock - 1) / kBlock * kBlock;
  REQUIRE(next_block + 32 <= wal.size());
  {
    std::fstream f(wals.back(),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(next_block));
    const std::string junk(32, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  internal::DatabaseOptions o;
  o.path = image.data_path();
  o.clock = &image.clock;
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  auto strict = internal::Database::Open(o);
  REQUIRE_FALSE(strict.has_value());
  INFO(strict.error().ToString());
  CHECK(strict.error().code() == StatusCode::kCorruption);
  // The default recovery stops at the damage, after every synced record.
  image.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  image.Open();
  CheckLogs(image, expected);
}

}  // namespace
}  // namespace siteledger::storage
