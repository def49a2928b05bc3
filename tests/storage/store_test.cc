#include "storage/store.h"

#include <rocksdb/db.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "storage/internal/database.h"
#include "storage/internal/keys.h"
#include "tests/common/temp_dir.h"

namespace siteledger::storage {
namespace {

constexpr std::string_view kKeyStoreIdentityRow =
    "siteledger database identity";

// A region in a temporary folder, opened through Store::Open as siteledgerd
// opens it.
struct Region {
  testing::TempDir dir;
  TestClock clock{TimestampFromMillis(1'790'000'000'000)};
  std::unique_ptr<Store> store;

  std::filesystem::path data() const { return dir / "us"; }
  std::filesystem::path keys() const { return dir / "us.keys"; }
  std::filesystem::path master() const { return dir / "master-us.key"; }

  Result<std::unique_ptr<Store>> TryOpen() {
    StoreOptions options;
    options.data = data();
    options.clock = &clock;
    return Store::Open(options);
  }
  void Open() {
    auto opened = TryOpen();
    INFO((opened ? std::string() : opened.error().ToString()));
    REQUIRE(opened.has_value());
    store = std::move(*opened);
  }
  void Close() { store.reset(); }

  TenantId Install(const std::string& client_key) {
    auto installed = store->registry().Install(
        {client_key, "https://" + client_key + ".example", "secret"});
    REQUIRE(installed.has_value());
    return installed->record.id;
  }
};

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

void WriteOtherMasterKey(const std::filesystem::path& path) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path);
    out << std::string(64, '7') << "\n";
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
}

// Deletes the identity rows, as a database and key store written before
// identities existed would be.
void ForgetIdentities(Region& region) {
  {
    internal::DatabaseOptions o;
    o.path = region.data();
    o.clock = &region.clock;
    auto db = internal::Database::Open(o);
    REQUIRE(db.has_value());
    REQUIRE((*db)
                ->db()
                ->Delete(rocksdb::WriteOptions(), (*db)->cf(Family::kTenants),
                         internal::TenantRowKey(internal::kRegistryTenant,
                                                internal::TenantRow::kIdentity))
                .ok());
  }
  rocksdb::DB* raw = nullptr;
  REQUIRE(
      rocksdb::DB::Open(rocksdb::Options(), region.keys().string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> keys(raw);
  REQUIRE(keys->Delete(rocksdb::WriteOptions(), kKeyStoreIdentityRow).ok());
}

Result<std::string> DatabaseIdentityRow(Region& region) {
  internal::DatabaseOptions o;
  o.path = region.data();
  o.clock = &region.clock;
  auto db = internal::Database::Open(o);
  if (!db) return Err(db.error());
  return (*db)->Get(Family::kTenants,
                    internal::TenantRowKey(internal::kRegistryTenant,
                                           internal::TenantRow::kIdentity));
}

TEST_CASE("Store::Open makes folders 0700 and files 0600 under umask 022",
          "[store]") {
  const mode_t old_umask = ::umask(022);
  Region region;
  region.Open();
  const TenantId t = region.Install("client-a");
  REQUIRE(region.store->log()
              .Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}})
              .has_value());
  AuditRecord record;
  record.actor = "system";
  record.action = "lifecycle.installed";
  REQUIRE(region.store->audit().Append(record).has_value());
  REQUIRE(region.store->WaitForIdle().ok());  // tables too, not only a WAL
  region.Close();
  ::umask(old_umask);

  CHECK(ModeOf(region.data()) == 0700);
  CHECK(ModeOf(region.keys()) == 0700);
  CHECK(ModeOf(region.master()) == 0600);
  size_t files = 0;
  for (const auto& folder : {region.data(), region.keys()}) {
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (!entry.is_regular_file()) continue;
      INFO(entry.path().string());
      CHECK((ModeOf(entry.path()) & 077) == 0);
      ++files;
    }
  }
  CHECK(files > 10);  // WAL, tables, MANIFEST, OPTIONS, LOCK, LOG, ...
}

TEST_CASE("Store::Open refuses a data or key-store folder others can read",
          "[store]") {
  Region region;
  SECTION("a data folder made 0755 before the first start") {
    std::filesystem::create_directories(region.data());
    REQUIRE(::chmod(region.data().c_str(), 0755) == 0);
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == StatusCode::kPermissionDenied);
    CHECK(opened.error().message().find(region.data().string()) !=
          std::string::npos);
    CHECK(opened.error().message().find("chmod -R go-rwx " +
                                        region.data().string()) !=
          std::string::npos);
    CHECK(std::filesystem::is_empty(region.data()));  // RocksDB never ran
  }
  SECTION("a key-store folder opened up after the first start") {
    region.Open();
    region.Close();
    REQUIRE(::chmod(region.keys().c_str(), 0750) == 0);
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == StatusCode::kPermissionDenied);
    CHECK(opened.error().message().find("chmod -R go-rwx " +
                                        region.keys().string()) !=
          std::string::npos);
  }
  SECTION("files of an older version in a private folder are narrowed") {
    region.Open();
    region.Close();
    std::filesystem::path current = region.data() / "CURRENT";
    REQUIRE(::chmod(current.c_str(), 0644) == 0);
    region.Open();
    CHECK(ModeOf(current) == 0600);
  }
}

TEST_CASE("No audit reason or clientKey is in any file in clear", "[store]") {
  const std::string client_key = "audit-distinctive-client-key-4711";
  const std::string reason = "distinctive access reason ticket-9911";
  Region region;
  region.Open();
  const TenantId t = region.Install(client_key);
  AuditRecord record;
  record.actor = "operator-jane";
  record.action = "operator.read";
  record.tenant = t;
  record.client_key = client_key;
  record.reason = reason;
  record.outcome = "200";
  REQUIRE(region.store->audit().Append(record).has_value());
  SECTION("while the records are only in the WAL") {}
  SECTION("after they were flushed to tables") {
    REQUIRE(region.store->WaitForIdle().ok());
  }
  region.Close();

  size_t files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(region.dir.path())) {
    if (!entry.is_regular_file()) continue;
    const std::string content = ReadAll(entry.path());
    INFO(entry.path().string());
    CHECK(content.find(client_key) == std::string::npos);
    CHECK(content.find(reason) == std::string::npos);
    ++files;
  }
  CHECK(files > 10);

  // And the record reads back whole, its chain intact.
  region.Open();
  auto entries = region.store->audit().Query({}, 0, 10);
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 1);
  CHECK((*entries)[0].record.client_key == client_key);
  CHECK((*entries)[0].record.reason == reason);
  auto report = region.store->audit().Verify();
  REQUIRE(report.has_value());
  CHECK(report->ok);
}

TEST_CASE("A new region opens, binds its key store and reopens", "[store]") {
  Region region;
  region.Open();
  const TenantId t = region.Install("client-a");
  REQUIRE(region.store->log()
              .Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}})
              .has_value());
  region.Close();
  auto row = DatabaseIdentityRow(region);
  REQUIRE(row.has_value());
  CHECK(row->size() == 1 + 16 + 32);
  region.Open();
  CHECK(region.store->log().Read(t, Sequence(1), 10)->size() == 1);
}

TEST_CASE("Store::Open refuses another master key", "[store]") {
  Region region;
  region.Open();
  SECTION("over a region with tenants") { region.Install("client-a"); }
  SECTION("over a region without tenants") {}
  region.Close();
  WriteOtherMasterKey(region.master());
  auto opened = region.TryOpen();
  REQUIRE_FALSE(opened.has_value());
  INFO(opened.error().ToString());
  CHECK(opened.error().code() == StatusCode::kInvalidArgument);
  CHECK(opened.error().message().find(region.master().string()) !=
        std::string::npos);
  CHECK(opened.error().message().find("check value does not match") !=
        std::string::npos);
}

TEST_CASE("Store::Open refuses a region whose key store is missing or foreign",
          "[store]") {
  Region region;
  region.Open();
  region.Install("client-a");
  region.Close();
  SECTION("the key store folder moved away") {
    std::filesystem::rename(region.keys(), region.dir / "elsewhere.keys");
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    INFO(opened.error().ToString());
    CHECK(opened.error().code() == StatusCode::kInvalidArgument);
    CHECK(opened.error().message().find(region.keys().string()) !=
          std::string::npos);
    CHECK(opened.error().message().find("does not exist") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(region.keys()));  // not recreated
  }
  SECTION("another region's key store in its place") {
    Region other;
    std::filesystem::copy_file(region.master(), other.master());
    other.Open();
    other.Install("client-b");
    other.Close();
    std::filesystem::remove_all(region.keys());
    std::filesystem::copy(other.keys(), region.keys());
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    INFO(opened.error().ToString());
    CHECK(opened.error().code() == StatusCode::kInvalidArgument);
    CHECK(opened.error().message().find("does not belong to the database") !=
          std::string::npos);
  }
  SECTION("an empty key store in its place") {
    std::filesystem::remove_all(region.keys());
    {
      rocksdb::Options o;
      o.create_if_missing = true;
      rocksdb::DB* raw = nullptr;
      REQUIRE(rocksdb::DB::Open(o, region.keys().string(), &raw).ok());
      delete raw;
    }
    REQUIRE(::chmod(region.keys().c_str(), 0700) == 0);
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    INFO(opened.error().ToString());
    CHECK(opened.error().code() == StatusCode::kInvalidArgument);
    CHECK(opened.error().message().find(region.keys().string()) !=
          std::string::npos);
  }
}

TEST_CASE("A region without tenants opens with a new key store", "[store]") {
  Region region;
  region.Open();
  region.Close();
  std::filesystem::remove_all(region.keys());
  region.Open();
  region.Install("client-a");
}

TEST_CASE("A database from before identities is bound on its first open",
          "[store]") {
  Region region;
  region.Open();
  const TenantId t = region.Install("client-a");
  REQUIRE(region.store->log()
              .Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}})
              .has_value());
  region.Close();
  ForgetIdentities(region);
  REQUIRE(DatabaseIdentityRow(region).error().code() == StatusCode::kNotFound);

  SECTION("with its own master key and key store: bound, then checked") {
    region.Open();
    CHECK(region.store->log().Read(t, Sequence(1), 10)->size() == 1);
    region.Close();
    CHECK(DatabaseIdentityRow(region).has_value());
    WriteOtherMasterKey(region.master());
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().message().find("check value does not match") !=
          std::string::npos);
  }
  SECTION("with another master key: refused, nothing written") {
    WriteOtherMasterKey(region.master());
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    INFO(opened.error().ToString());
    CHECK(opened.error().code() == StatusCode::kInvalidArgument);
    CHECK(opened.error().message().find(region.master().string()) !=
          std::string::npos);
    CHECK(DatabaseIdentityRow(region).error().code() == StatusCode::kNotFound);
  }
  SECTION("with an empty key store: refused") {
    std::filesystem::remove_all(region.keys());
    {
      rocksdb::Options o;
      o.create_if_missing = true;
      rocksdb::DB* raw = nullptr;
      REQUIRE(rocksdb::DB::Open(o, region.keys().string(), &raw).ok());
      delete raw;
    }
    REQUIRE(::chmod(region.keys().c_str(), 0700) == 0);
    auto opened = region.TryOpen();
    REQUIRE_FALSE(opened.has_value());
    INFO(opened.error().ToString());
    CHECK(opened.error().code() == StatusCode::kInvalidArgument);
    CHECK(opened.error().message().find("has no data key") !=
          std::string::npos);
  }
}

// Every file of the region's three places: path -> (size, mtime in ns).
std::map<std::string, std::pair<uintmax_t, int64_t>> RegionFiles(
    const Region& region) {
  std::map<std::string, std::pair<uintmax_t, int64_t>> out;
  auto add = [&](const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    out[p.string()] = {static_cast<uintmax_t>(st.st_size),
                       static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                           st.st_mtim.tv_nsec};
  };
  for (const auto& root : {region.data(), region.keys()}) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      add(e.path());
    }
  }
  add(region.master());
  return out;
}

Result<std::unique_ptr<Store>> OpenReadOnly(
    Region& region, const std::filesystem::path& scratch,
    StoreOptions options = {}) {
  if (options.data.empty()) options.data = region.data();
  options.clock = &region.clock;
  return Store::OpenReadOnly(options, scratch);
}

TEST_CASE(
    "Store::OpenReadOnly reads a live region as it was when opened and "
    "writes nothing",
    "[store]") {
  Region region;
  region.Open();
  const TenantId t = region.Install("site-a");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(region.store->log()
                .Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}})
                .has_value());
  }
  testing::TempDir scratch;
  const mode_t umask_before = ::umask(022);
  auto ro = OpenReadOnly(region, scratch.path());
  const mode_t umask_after = ::umask(umask_before);
  INFO((ro ? std::string() : ro.error().ToString()));
  REQUIRE(ro.has_value());
  Store& reader = **ro;
  CHECK(reader.read_only());
  CHECK(umask_after == 022);  // the process's umask is left alone

  // Reads: the registry, the log, its verification, the audit chain.
  auto found = reader.registry().Find("site-a");
  REQUIRE(found.has_value());
  CHECK(*found == t);
  auto head = reader.log().GetHead(t);
  REQUIRE(head.has_value());
  CHECK(head->seq == Sequence(3));
  auto events = reader.log().Read(t, Sequence(1), 10);
  REQUIRE(events.has_value());
  CHECK(events->size() == 3);
  auto verified = reader.log().Verify(t);
  REQUIRE(verified.has_value());
  CHECK(verified->ok);
  CHECK(reader.audit().Verify().has_value());

  // Writes fail cleanly, and the live store goes on appending.
  auto appended =
      reader.log().Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}});
  REQUIRE_FALSE(appended.has_value());
  CHECK(appended.error().code() == StatusCode::kPermissionDenied);
  CHECK(appended.error().message().find("read-only") != std::string::npos);
  CHECK_FALSE(reader.registry()
                  .Install({"site-b", "https://b.example", "secret"})
                  .has_value());
  CHECK(reader.keys().Create(TenantId(99)).code() ==
        StatusCode::kPermissionDenied);
  REQUIRE(region.store->log()
              .Append(t, std::nullopt, {NewEvent{"a.b", "", "{}"}})
              .has_value());
  // One snapshot: the append after the open is not seen.
  CHECK(reader.log().GetHead(t)->seq == Sequence(3));
  ro->reset();

  // On a stopped region, not a file changes, not even its time.
  region.Close();
  const auto before = RegionFiles(region);
  {
    auto again = OpenReadOnly(region, scratch.path());
    REQUIRE(again.has_value());
    CHECK((*again)->log().GetHead(t)->seq == Sequence(4));
  }
  CHECK(RegionFiles(region) == before);
}

TEST_CASE(
    "Store::OpenReadOnly names the missing or wrong file and creates nothing",
    "[store]") {
  Region region;
  region.Open();
  region.Install("site-a");
  region.Close();
  testing::TempDir scratch;

  SECTION("no database") {
    StoreOptions o;
    o.data = region.dir / "eu";
    auto ro = OpenReadOnly(region, scratch.path(), o);
    REQUIRE_FALSE(ro.has_value());
    CHECK(ro.error().code() == StatusCode::kNotFound);
    CHECK(ro.error().message().find("--data") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(region.dir / "eu"));
    CHECK_FALSE(std::filesystem::exists(region.dir / "master-eu.key"));
  }
  SECTION("no master key file") {
    std::filesystem::remove(region.master());
    auto ro = OpenReadOnly(region, scratch.path());
    REQUIRE_FALSE(ro.has_value());
    CHECK(ro.error().code() == StatusCode::kNotFound);
    CHECK(ro.error().message().find("--master-key-file") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(region.master()));
  }
  SECTION("another master key") {
    WriteOtherMasterKey(region.master());
    auto ro = OpenReadOnly(region, scratch.path());
    REQUIRE_FALSE(ro.has_value());
    CHECK(ro.error().code() == StatusCode::kInvalidArgument);
    CHECK(ro.error().message().find(region.master().string()) !=
          std::string::npos);
  }
  SECTION("no key store") {
    std::filesystem::remove_all(region.keys());
    auto ro = OpenReadOnly(region, scratch.path());
    REQUIRE_FALSE(ro.has_value());
    CHECK(ro.error().code() == StatusCode::kNotFound);
    CHECK(ro.error().message().find("--key-store") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(region.keys()));
  }
}

}  // namespace
}  // namespace siteledger::storage
