#include "storage/master_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace siteledger::storage {
namespace {

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path) {
  return Status::IOError(std::string(what) + " " + path.string() + ": " +
                         std::strerror(errno));
}

Status WriteNewKeyFile(const std::filesystem::path& path,
                       const std::string& hex) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Status::IOError("creating " + path.parent_path().string() + ": " +
                             ec.message());
    }
  }
  // O_EXCL: two processes starting at once must not both write a key.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("creating", path);
  const std::string line = hex + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) ==
                      static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!ok) {
    errno = saved_errno;
    return ErrnoStatus("writing", path);
  }
  // Make the new directory entry durable too.
  const auto dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

// Reads and checks the existing key file at `path`, whose stat is `st`.
Result<MasterKey> ReadKeyFile(const std::filesystem::path& path,
                              const struct stat& st) {
  if ((st.st_mode & 077) != 0) {
    return Err(Status::PermissionDenied(
        "master key file " + path.string() +
        " may be read by other users; make it mode 0600 (chmod 600)"));
  }
  std::ifstream in(path);
  if (!in) return Err(ErrnoStatus("reading", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  auto bytes = FromHex(text);
  SecureWipe(text);
  if (!bytes || bytes->size() != AeadKey::kKeyBytes) {
    return Err(Status::InvalidArgument(
        "master key file " + path.string() +
        " must hold 64 hex digits (a 32-byte key) and nothing else"));
  }
  auto key = MasterKey::FromBytes(*bytes);
  SecureWipe(*bytes);
  return key;
}

}  // namespace

Result<MasterKey> MasterKey::LoadOrCreate(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Err(ErrnoStatus("reading", path));
    auto bytes = RandomBytes(AeadKey::kKeyBytes);
    if (!bytes) return Err(bytes.error());
    std::string hex = ToHex(*bytes);
    Status s = WriteNewKeyFile(path, hex);
    SecureWipe(hex);
    if (!s.ok()) {
      // Another process may have created it first; fall through to reading.
      if (::stat(path.c_str(), &st) != 0) return Err(s);
    } else {
      return FromBytes(*bytes);
    }
  }
  return ReadKeyFile(path, st);
}

Result<MasterKey> MasterKey::Load(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Err(Status::NotFound(
          "no master key file at " + path.string() +
          ": name the region's key with --master-key-file (siteledgerd's "
          "default is master-<region>.key beside the data folder)"));
    }
    return Err(ErrnoStatus("reading", path));
  }
  return ReadKeyFile(path, st);
}

Result<MasterKey> MasterKey::FromBytes(std::string_view key) {
  auto aead = AeadKey::FromBytes(key);
  if (!aead) return Err(aead.error());
  return MasterKey(std::move(*aead));
}

std::string MasterKey::Derive(std::string_view purpose) const {
  const Hash h = HmacSha256(key_.bytes(), purpose);
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

AeadKey MasterKey::DeriveAead(std::string_view purpose) const {
  std::string bytes = Derive(purpose);
  // A 32-byte HMAC output is always a valid AES-256 key.
  AeadKey key = *AeadKey::FromBytes(bytes);
  SecureWipe(bytes);
  return key;
}

}  // namespace siteledger::storage
