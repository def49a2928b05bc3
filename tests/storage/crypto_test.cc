#include "storage/crypto.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace siteledger::storage {
namespace {

TEST_CASE("Sha256 and HMAC match the published test vectors", "[crypto]") {
  CHECK(ToHex(Sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231, test case 2.
  CHECK(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231, test case 6: a key longer than the block is hashed first.
  CHECK(ToHex(HmacSha256(std::string(131, '\xaa'),
                         "Test Using Larger Than Block-Size Key - Hash Key "
                         "First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // RFC 4231, test case 1, and an empty key and message.
  CHECK(ToHex(HmacSha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(ToHex(HmacSha256("", "")) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  CHECK(h.Finish() == Sha256("abc"));
}

TEST_CASE("Hex round-trips and refuses bad digits", "[crypto]") {
  CHECK(ToHex(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(*FromHex("00FF10") == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(FromHex("abc").has_value());
  CHECK_FALSE(FromHex("zz").has_value());
}

TEST_CASE("ConstantTimeEquals compares contents and lengths", "[crypto]") {
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret!"));
  CHECK(ConstantTimeEquals("", ""));
}

TEST_CASE("A sealed value opens only with its key and associated data",
          "[crypto]") {
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  auto other = AeadKey::Generate();
  REQUIRE(other.has_value());
  auto sealed = key->Seal("layout body", "row-1");
  REQUIRE(sealed.has_value());
  CHECK(sealed->size() ==
        std::string("layout body").size() + AeadKey::kOverhead);
  CHECK(sealed->find("layout body") == std::string::npos);

  CHECK(*key->Open(*sealed, "row-1") == "layout body");
  SECTION("another key") {
    auto opened = other->Open(*sealed, "row-1");
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == StatusCode::kCorruption);
  }
  SECTION("other associated data") {
    CHECK_FALSE(key->Open(*sealed, "row-2").has_value());
  }
  SECTION("a flipped byte anywhere") {
    for (size_t i = 0; i < sealed->size(); ++i) {
      std::string bad = *sealed;
      bad[i] ^= 0x01;
      CHECK_FALSE(key->Open(bad, "row-1").has_value());
    }
  }
  SECTION("truncated") {
    CHECK_FALSE(key->Open(sealed->substr(0, 10), "row-1").has_value());
  }
  SECTION("two seals of the same value differ (fresh nonces)") {
    CHECK(*key->Seal("layout body", "row-1") != *sealed);
  }
}

TEST_CASE("An empty plaintext seals and opens", "[crypto]") {
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  auto sealed = key->Seal("", "");
  REQUIRE(sealed.has_value());
  CHECK(key->Open(*sealed, "")->empty());
}

}  // namespace
}  // namespace siteledger::storage

// Nonces come from the CSPRNG in blocks, and each thread remembers its last
// key: neither may ever repeat a nonce or mix up keys.
namespace siteledger::storage {
namespace {

std::string NonceOf(const std::string& sealed) { return sealed.substr(1, 12); }

TEST_CASE("Nonces never repeat, across blocks and interleaved keys",
          "[crypto]") {
  auto a = AeadKey::Generate();
  auto b = AeadKey::Generate();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {  // many blocks of buffered nonces
    const AeadKey& key = (i % 3 == 0) ? *b : *a;
    auto sealed = key.Seal("value " + std::to_string(i), "aad");
    REQUIRE(sealed.has_value());
    REQUIRE(seen.insert(NonceOf(*sealed)).second);
    // Interleaved keys and directions still open under the right key only.
    auto opened = key.Open(*sealed, "aad");
    REQUIRE(opened.has_value());
    REQUIRE(*opened == "value " + std::to_string(i));
    const AeadKey& other = (i % 3 == 0) ? *a : *b;
    REQUIRE_FALSE(other.Open(*sealed, "aad").has_value());
  }
}

TEST_CASE("A forked child never reuses its parent's buffered nonces",
          "[crypto]") {
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  // The parent has a block of nonces buffered after this seal.
  REQUIRE(key->Seal("warm", "").has_value());
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    for (int i = 0; i < 8; ++i) {
      auto sealed = key->Seal("child", "");
      if (!sealed) ::_exit(2);
      out += NonceOf(*sealed);
    }
    const bool ok = ::write(fds[1], out.data(), out.size()) ==
                    static_cast<ssize_t>(out.size());
    ::_exit(ok ? 0 : 3);
  }
  ::close(fds[1]);
  std::string child(8 * 12, '\0');
  size_t got = 0;
  while (got < child.size()) {
    const ssize_t n = ::read(fds[0], child.data() + got, child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(got == child.size());
  std::set<std::string> parent;
  for (int i = 0; i < 8; ++i) {
    auto sealed = key->Seal("parent", "");
    REQUIRE(sealed.has_value());
    parent.insert(NonceOf(*sealed));
  }
  for (size_t i = 0; i < 8; ++i) {
    INFO("child nonce " << i);
    CHECK(parent.count(child.substr(i * 12, 12)) == 0);
  }
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

TEST_CASE("One key sealing and opening in a row keeps its state right",
          "[crypto]") {
  // The thread's cipher context keeps the last key: runs of operations
  // under one key take the fast path, and a failure must not leave it
  // stale for the next value.
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  std::vector<std::string> sealed;
  for (int i = 0; i < 5; ++i) {
    auto s = key->Seal("value " + std::to_string(i), "aad");
    REQUIRE(s.has_value());
    sealed.push_back(*s);
  }
  for (int i = 0; i < 5; ++i) {
    auto opened = key->Open(sealed[static_cast<size_t>(i)], "aad");
    REQUIRE(opened.has_value());
    CHECK(*opened == "value " + std::to_string(i));
  }
  std::string tampered = sealed[2];
  tampered[tampered.size() / 2] ^= 0x01;
  CHECK_FALSE(key->Open(tampered, "aad").has_value());
  CHECK_FALSE(key->Open(sealed[3], "other aad").has_value());
  auto again = key->Open(sealed[3], "aad");
  REQUIRE(again.has_value());
  CHECK(*again == "value 3");
  auto fresh = key->Seal("after a failure", "aad");
  REQUIRE(fresh.has_value());
  auto reopened = key->Open(*fresh, "aad");
  REQUIRE(reopened.has_value());
  CHECK(*reopened == "after a failure");
}

}  // namespace
}  // namespace siteledger::storage
