#include "storage/internal/wal_file_system.h"

#include <algorithm>
#include <array>

namespace siteledger::storage::internal {

namespace {

constexpr uint64_t kLogBlock = 32 << 10;  // RocksDB's log::kBlockSize

// A WAL file written at its own offsets, ahead of which the file is
// extended with zeros (see the header). RocksDB writes a WAL with Append
// only, from one thread at a time.
class ZeroFilledWal : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  explicit ZeroFilledWal(std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)) {}

  ~ZeroFilledWal() override {
    if (!closed_) {
      Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
    }
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return Write(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Write(data, options, dbg);
  }

  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t,
                                     const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("a WAL is written in order");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t,
                                     const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("a WAL is written in order");
  }

  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) written_ = zeroed_ = size;
    return s;
  }

  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    closed_ = true;
    // Cut the zeros off a finished log. Should that fail (or a crash come
    // first), the zeros read as padding: nothing is lost either way.
    if (zeroed_ > written_) {
      target()->Truncate(written_, options, dbg).PermitUncheckedError();
    }
    return target()->Close(options, dbg);
  }

  uint64_t GetFileSize(const rocksdb::IOOptions&,
                       rocksdb::IODebugContext*) override {
    return written_;
  }

  // The zeros are the preallocation: fallocate's unwritten extents would
  // cost a metadata write again when first written.
  void PrepareWrite(size_t, size_t, const rocksdb::IOOptions&,
                    rocksdb::IODebugContext*) override {}
  rocksdb::IOStatus Allocate(uint64_t, uint64_t, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }

 private:
  rocksdb::IOStatus Write(const rocksdb::Slice& data,
                          const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) {
    if (written_ + data.size() > zeroed_) {
      rocksdb::IOStatus s = ZeroFill(
          WalZeroFillFileSystem::NextZeroedEnd(zeroed_, written_ + data.size()),
          options, dbg);
      if (!s.ok()) return s;
    }
    rocksdb::IOStatus s =
        target()->PositionedAppend(data, written_, options, dbg);
    if (s.ok()) written_ += data.size();
    return s;
  }

  rocksdb::IOStatus ZeroFill(uint64_t end, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) {
    static const std::array<char, 64 << 10> kZeros{};
    while (zeroed_ < end) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(kZeros.size(), end - zeroed_));
      rocksdb::IOStatus s = target()->PositionedAppend(
          rocksdb::Slice(kZeros.data(), n), zeroed_, options, dbg);
      if (!s.ok()) return s;
      zeroed_ += n;
    }
    return rocksdb::IOStatus::OK();
  }

  uint64_t written_ = 0;  // the log's bytes
  uint64_t zeroed_ = 0;   // the file's bytes: the log, then zeros
  bool closed_ = false;
};

}  // namespace

WalZeroFillFileSystem::WalZeroFillFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(std::move(base)) {}

bool WalZeroFillFileSystem::IsWalName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view name =
      std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
  constexpr std::string_view kSuffix = ".log";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return false;
  const std::string_view number = name.substr(0, name.size() - kSuffix.size());
  return std::all_of(number.begin(), number.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

uint64_t WalZeroFillFileSystem::NextZeroedEnd(uint64_t zeroed, uint64_t need) {
  const uint64_t chunk = std::clamp(zeroed, kMinChunk, kMaxChunk);
  const uint64_t end = std::max(need, zeroed + chunk);
  return (end + kLogBlock - 1) / kLogBlock * kLogBlock;
}

rocksdb::IOStatus WalZeroFillFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
  if (!s.ok() || !IsWalName(name) || options.use_direct_writes ||
      options.use_mmap_writes) {
    return s;
  }
  *result = std::make_unique<ZeroFilledWal>(std::move(*result));
  return s;
}

}  // namespace siteledger::storage::internal
