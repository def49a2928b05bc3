#include "storage/master_key.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/common/temp_dir.h"

namespace siteledger::storage {
namespace {

TEST_CASE("The master key file is created with mode 0600 and read back",
          "[master_key]") {
  testing::TempDir dir;
  const auto path = dir / "data/master-us.key";
  auto created = MasterKey::LoadOrCreate(path);
  REQUIRE(created.has_value());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  CHECK(line.size() == 64);

  auto loaded = MasterKey::LoadOrCreate(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->Derive("x") == created->Derive("x"));
  CHECK(loaded->Derive("x") != loaded->Derive("y"));
}

TEST_CASE("A master key file others may read is refused", "[master_key]") {
  testing::TempDir dir;
  const auto path = dir / "master-us.key";
  REQUIRE(MasterKey::LoadOrCreate(path).has_value());
  ::chmod(path.c_str(), 0644);
  auto loaded = MasterKey::LoadOrCreate(path);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.error().code() == StatusCode::kPermissionDenied);
  CHECK(loaded.error().message().find("chmod 600") != std::string::npos);
}

TEST_CASE("A master key file with anything but one key is refused",
          "[master_key]") {
  testing::TempDir dir;
  const auto path = dir / "master-us.key";
  {
    std::ofstream out(path);
    out << "not a key\n";
  }
  ::chmod(path.c_str(), 0600);
  auto loaded = MasterKey::LoadOrCreate(path);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.error().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace siteledger::storage
