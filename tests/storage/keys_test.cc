#include "storage/internal/keys.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <vector>

namespace siteledger::storage::internal {
namespace {

TEST_CASE("Event keys sort by tenant, then seq, numerically", "[keys]") {
  std::vector<std::pair<uint64_t, uint64_t>> ids;
  for (uint64_t t : {1ULL, 2ULL, 255ULL, 256ULL, 65536ULL, 1ULL << 40}) {
    for (uint64_t s : {1ULL, 2ULL, 9ULL, 10ULL, 255ULL, 256ULL, 1ULL << 33}) {
      ids.emplace_back(t, s);
    }
  }
  std::vector<std::string> keys;
  for (auto [t, s] : ids) keys.push_back(EventKey(TenantId(t), Sequence(s)));
  std::mt19937 rng(7);
  std::shuffle(keys.begin(), keys.end(), rng);
  std::sort(keys.begin(), keys.end());  // bytewise, as RocksDB compares
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(TenantOfKey(keys[i]).value() == ids[i].first);
    CHECK(SequenceOfKey(keys[i]).value() == ids[i].second);
  }
}

TEST_CASE("A tenant's rows lie within its range and no other's", "[keys]") {
  const TenantId a(255), b(256);
  const std::string a_begin = TenantPrefix(a), a_end = TenantRangeEnd(a);
  CHECK(a_end == TenantPrefix(b));
  for (const std::string& k :
       {EventKey(a, Sequence(1)), EventKey(a, Sequence(UINT64_MAX)),
        TenantRowKey(a, TenantRow::kHead),
        TenantKey(a, std::string(40, '\xff'))}) {
    CHECK(k >= a_begin);
    CHECK(k < a_end);
  }
  CHECK(EventKey(b, Sequence(0)) >= a_end);
}

TEST_CASE("Keys are fixed-width big-endian", "[keys]") {
  CHECK(EventKey(TenantId(0x0102030405060708), Sequence(0x090a)) ==
        std::string("\x01\x02\x03\x04\x05\x06\x07\x08"
                    "\x00\x00\x00\x00\x00\x00\x09\x0a",
                    16));
}

}  // namespace
}  // namespace siteledger::storage::internal
