#pragma once

// A whole region's storage in a temporary directory, opened through the
// internal API so that tests can inject a file system and reopen at will.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/base/clock.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/key_store.h"
#include "storage/master_key.h"
#include "storage/tenant_registry.h"
#include "tests/common/temp_dir.h"

namespace siteledger::testing {

inline storage::MasterKey TestMasterKey() {
  return *storage::MasterKey::FromBytes(std::string(32, '\x42'));
}

struct Rig {
  TempDir dir;
  siteledger::TestClock clock{
      siteledger::TimestampFromMillis(1'790'000'000'000)};
  storage::MasterKey master = TestMasterKey();
  std::unique_ptr<storage::internal::Database> db;
  std::unique_ptr<storage::KeyStore> keys;
  std::unique_ptr<storage::TenantRegistry> registry;
  std::unique_ptr<storage::EventLog> log;

  // Applied by every Open.
  rocksdb::WALRecoveryMode wal_recovery_mode =
      rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  explicit Rig(std::shared_ptr<rocksdb::FileSystem> fs = nullptr) { Open(fs); }
  ~Rig() { Close(); }

  std::filesystem::path data_path() const { return dir / "us"; }
  std::filesystem::path keys_path() const { return dir / "us.keys"; }

  void Open(std::shared_ptr<rocksdb::FileSystem> fs = nullptr,
            storage::EventLog::Options options = {}) {
    storage::internal::DatabaseOptions o;
    o.path = data_path();
    o.clock = &clock;
    o.file_system = std::move(fs);
    o.wal_recovery_mode = wal_recovery_mode;
    auto opened = storage::internal::Database::Open(o);
    REQUIRE(opened.has_value());
    db = std::move(*opened);
    auto k = storage::KeyStore::Open(keys_path(), master);
    REQUIRE(k.has_value());
    keys = std::move(*k);
    registry = std::make_unique<storage::TenantRegistry>(*db, *keys, master,
                                                         clock, "us");
    // As Store::Open derives it.
    if (options.account_index_key.empty()) {
      options.account_index_key = master.Derive("account-index");
    }
    log = std::make_unique<storage::EventLog>(*db, *keys, clock, options);
  }

  void Close() {
    log.reset();
    registry.reset();
    keys.reset();
    db.reset();
  }

  void Reopen() {
    Close();
    Open();
  }

  siteledger::TenantId NewTenant(const std::string& client_key) {
    auto installed = registry->Install(
        {client_key, "https://" + client_key + ".atlassian.net", "secret"});
    REQUIRE(installed.has_value());
    return installed->record.id;
  }
};

// The files under `folder`, recursively (tables, blob files, WAL files,
// MANIFEST, logs), whose bytes contain `needle`.
inline std::vector<std::string> FilesHolding(
    const std::filesystem::path& folder, std::string_view needle) {
  std::vector<std::string> found;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

// Walks the tenant's chain and requires it to verify, naming the problem.
inline void RequireChainVerifies(Rig& rig, siteledger::TenantId tenant) {
  auto report = rig.log->Verify(tenant);
  REQUIRE(report.has_value());
  INFO(report->problem);
  REQUIRE(report->ok);
}

inline storage::NewEvent Ev(std::string type, std::string payload,
                            std::string actor = "p-1") {
  return storage::NewEvent{std::move(type), std::move(actor),
                           std::move(payload)};
}

}  // namespace siteledger::testing
