#pragma once

// A file system wrapper that makes a synced write-ahead log cheaper to sync.
//
// fdatasync of a file that grew must also make the new size durable: a
// second, metadata write, or (with a journal) a journal commit that on ext4
// (data=ordered) also waits for every other file's newly written data, so a
// WAL sync behind a memtable flush pays for the flush. A sync of bytes
// written inside the file's existing, already written extent flushes only
// those bytes. So each WAL file is extended ahead of the log with zeros, in
// chunks that grow with the file (64 KiB doubling to 4 MiB), and the log
// overwrites them: one size change per chunk instead of one per synced
// write.
//
// This is not RocksDB's recycle_log_file_num: no old log is reused, so no
// earlier record (or key) survives in a log file. RocksDB's log reader takes
// zero-filled space as padding (a zero-length kZeroType record), so a crash
// that leaves zeros after the last record recovers like any torn tail; a
// closed file is truncated to its real length.

#include <rocksdb/file_system.h>

#include <memory>
#include <string>

namespace siteledger::storage::internal {

class WalZeroFillFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit WalZeroFillFileSystem(std::shared_ptr<rocksdb::FileSystem> base);

  static const char* kClassName() { return "WalZeroFillFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;

  // True for a RocksDB write-ahead log's name ("000123.log").
  static bool IsWalName(const std::string& path);

  // The zero-filled extent ahead of a log of `written` bytes, when it must
  // grow to hold `need` bytes: chunks of the file's own size, between
  // kMinChunk and kMaxChunk, in whole 32 KiB log blocks.
  static uint64_t NextZeroedEnd(uint64_t zeroed, uint64_t need);

  static constexpr uint64_t kMinChunk = 64 << 10;
  static constexpr uint64_t kMaxChunk = 4 << 20;
};

}  // namespace siteledger::storage::internal
