#include "storage/internal/private_folder.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace siteledger::storage::internal {
namespace {

constexpr mode_t kOthersBits = 077;

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path) {
  return Status::IOError(std::string(what) + " " + path.string() + ": " +
                         std::strerror(errno));
}

}  // namespace

void RestrictUmask() { ::umask(kOthersBits); }

Status PreparePrivateFolder(const std::filesystem::path& path,
                            std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus("reading", path);
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return Status::IOError("creating " + path.string() + ": " + ec.message());
    }
    // create_directories honours the umask; say 0700 whatever it was.
    if (::chmod(path.c_str(), S_IRWXU) != 0) {
      return ErrnoStatus("restricting", path);
    }
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::IOError(std::string(what) + " " + path.string() +
                           " is not a folder");
  }
  if ((st.st_mode & kOthersBits) != 0) {
    return Status::PermissionDenied(
        std::string(what) + " " + path.string() +
        " may be read by other users; make it and its files the owner's "
        "alone (chmod -R go-rwx " +
        path.string() + ")");
  }
  // The folder already keeps others out; narrow the files too, so that a
  // copy of the folder (or a later chmod of it) does not open them up.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    struct stat file {};
    if (::lstat(entry.path().c_str(), &file) != 0) {
      return ErrnoStatus("reading", entry.path());
    }
    if (!S_ISREG(file.st_mode) || (file.st_mode & kOthersBits) == 0) continue;
    if (::chmod(entry.path().c_str(), file.st_mode & S_IRWXU) != 0) {
      return ErrnoStatus("restricting", entry.path());
    }
  }
  if (ec)
    return Status::IOError("listing " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace siteledger::storage::internal
