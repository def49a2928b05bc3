#pragma once

// A file system that can simulate a power loss: after Crash(), every write
// and sync fails, and DropUnsyncedData() loses every byte not synced: it
// zeroes what was written since the last sync inside the synced length (a
// WAL overwrites zeros laid ahead of it, so its length says nothing about
// what was synced) and cuts each file back to its synced length. A SIGKILL
// leaves the page cache intact; this does not.

#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace siteledger::testing {

class CrashableFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit CrashableFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
      : FileSystemWrapper(std::move(base)) {}

  const char* Name() const override { return "CrashableFileSystem"; }

  // From now on every write and sync fails, as if the machine lost power.
  void Crash() { crashed_ = true; }
  bool crashed() const { return crashed_; }

  // Truncates every file written through this file system to its last
  // synced length. Call after the database was closed (or abandoned).
  void DropUnsyncedData() {
    std::lock_guard lock(mu_);
    for (const auto& [name, state] : files_) {
      std::error_code ec;
      if (!std::filesystem::exists(name, ec)) continue;
      std::fstream f(name, std::ios::in | std::ios::out | std::ios::binary);
      for (const auto& [offset, length] : state.unsynced) {
        if (offset >= state.synced) continue;  // cut off below
        const uint64_t n = std::min(length, state.synced - offset);
        const std::string zeros(n, '\0');
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(zeros.data(), static_cast<std::streamsize>(n));
      }
      f.close();
      std::filesystem::resize_file(name, state.synced, ec);
    }
  }

  // Bytes written but never synced, over all files, at the moment of asking.
  uint64_t unsynced_bytes() {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (const auto& [name, state] : files_) {
      for (const auto& [offset, length] : state.unsynced) n += length;
    }
    return n;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (crashed_) return rocksdb::IOStatus::IOError("simulated power loss");
    std::unique_ptr<rocksdb::FSWritableFile> file;
    auto s = target()->NewWritableFile(name, options, &file, dbg);
    if (!s.ok()) return s;
    {
      std::lock_guard lock(mu_);
      files_[name] = FileState{};
    }
    r->reset(new File(std::move(file), name, *this));
    return s;
  }

  rocksdb::IOStatus ReopenWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override {
    if (crashed_) return rocksdb::IOStatus::IOError("simulated power loss");
    std::unique_ptr<rocksdb::FSWritableFile> file;
    auto s = target()->ReopenWritableFile(name, options, &file, dbg);
    if (!s.ok()) return s;
    {
      std::lock_guard lock(mu_);
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(name, ec);
      auto& state = files_[name];
      state.written = state.synced = ec ? 0 : size;
      state.unsynced.clear();
    }
    r->reset(new File(std::move(file), name, *this));
    return s;
  }

  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (crashed_) return rocksdb::IOStatus::IOError("simulated power loss");
    auto s = target()->RenameFile(src, dst, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (auto it = files_.find(src); it != files_.end()) {
        files_[dst] = it->second;
        files_.erase(it);
      }
    }
    return s;
  }

  rocksdb::IOStatus DeleteFile(const std::string& name,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (crashed_) return rocksdb::IOStatus::IOError("simulated power loss");
    auto s = target()->DeleteFile(name, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      files_.erase(name);
    }
    return s;
  }

 private:
  struct FileState {
    uint64_t written = 0;  // the file's length
    uint64_t synced = 0;   // its length at the last sync
    // (offset, length) of every write since the last sync.
    std::vector<std::pair<uint64_t, uint64_t>> unsynced;
  };

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, std::string name,
         CrashableFileSystem& fs)
        : FSWritableFileOwnerWrapper(std::move(f)),
          name_(std::move(name)),
          fs_(fs) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->Append(data, o, dbg);
      if (s.ok()) fs_.Grow(name_, data.size());
      return s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->Append(data, o, info, dbg);
      if (s.ok()) fs_.Grow(name_, data.size());
      return s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                       uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->PositionedAppend(data, offset, o, dbg);
      if (s.ok()) fs_.GrowTo(name_, offset, data.size());
      return s;
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->Truncate(size, o, dbg);
      if (s.ok()) fs_.TruncateTo(name_, size);
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->Sync(o, dbg);
      if (s.ok()) fs_.MarkSynced(name_);
      return s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      auto s = target()->Fsync(o, dbg);
      if (s.ok()) fs_.MarkSynced(name_);
      return s;
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      return target()->Flush(o, dbg);
    }
    // sync_file_range makes no durability promise: it does not count.
    rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t n,
                                const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* dbg) override {
      if (fs_.crashed_) return Lost();
      return target()->RangeSync(offset, n, o, dbg);
    }
    rocksdb::IOStatus Close(const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* dbg) override {
      // Closing never syncs; after the crash, close the descriptor quietly.
      auto s = target()->Close(o, dbg);
      return fs_.crashed_ ? rocksdb::IOStatus::OK() : s;
    }

   private:
    static rocksdb::IOStatus Lost() {
      return rocksdb::IOStatus::IOError("simulated power loss");
    }
    std::string name_;
    CrashableFileSystem& fs_;
  };

  void Grow(const std::string& name, uint64_t n) {
    std::lock_guard lock(mu_);
    auto& state = files_[name];
    state.unsynced.emplace_back(state.written, n);
    state.written += n;
  }
  void GrowTo(const std::string& name, uint64_t offset, uint64_t n) {
    std::lock_guard lock(mu_);
    auto& state = files_[name];
    state.unsynced.emplace_back(offset, n);
    state.written = std::max(state.written, offset + n);
  }
  void TruncateTo(const std::string& name, uint64_t size) {
    std::lock_guard lock(mu_);
    auto& state = files_[name];
    state.written = size;
    state.synced = std::min(state.synced, size);
  }
  void MarkSynced(const std::string& name) {
    std::lock_guard lock(mu_);
    auto& state = files_[name];
    state.synced = state.written;
    state.unsynced.clear();
  }

  std::atomic<bool> crashed_{false};
  std::mutex mu_;
  std::map<std::string, FileState> files_;  // GUARDED_BY(mu_)
};

}  // namespace siteledger::testing

namespace siteledger::testing {

// A file system of `capacity` bytes: the sizes of the files written through
// it (since it was made) count against it, and a write that would pass the
// capacity fails with NoSpace, writing nothing, as write(2) does with ENOSPC
// (RocksDB sees the same status as from a full disk). Deleting or
// truncating a file gives its bytes back; set_capacity() frees space.
class NoSpaceFileSystem : public rocksdb::FileSystemWrapper {
 public:
  NoSpaceFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                    uint64_t capacity)
      : FileSystemWrapper(std::move(base)), capacity_(capacity) {}

  const char* Name() const override { return "NoSpaceFileSystem"; }

  void set_capacity(uint64_t capacity) { capacity_ = capacity; }
  uint64_t used() {
    std::lock_guard lock(mu_);
    return used_;
  }
  // Writes refused with NoSpace so far.
  uint64_t refusals() const { return refusals_; }

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    auto s = target()->NewWritableFile(name, options, &file, dbg);
    if (!s.ok()) return s;
    Resize(name, 0);
    r->reset(new File(std::move(file), name, *this));
    return s;
  }

  rocksdb::IOStatus ReopenWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    auto s = target()->ReopenWritableFile(name, options, &file, dbg);
    if (!s.ok()) return s;
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(name, ec);
    Resize(name, ec ? 0 : size);
    r->reset(new File(std::move(file), name, *this));
    return s;
  }

  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    auto s = target()->RenameFile(src, dst, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (auto it = sizes_.find(src); it != sizes_.end()) {
        const uint64_t size = it->second;
        sizes_.erase(it);
        if (auto old = sizes_.find(dst); old != sizes_.end()) {
          used_ -= old->second;
        }
        sizes_[dst] = size;
      }
    }
    return s;
  }

  rocksdb::IOStatus DeleteFile(const std::string& name,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    auto s = target()->DeleteFile(name, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (auto it = sizes_.find(name); it != sizes_.end()) {
        used_ -= it->second;
        sizes_.erase(it);
      }
    }
    return s;
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, std::string name,
         NoSpaceFileSystem& fs)
        : FSWritableFileOwnerWrapper(std::move(f)),
          name_(std::move(name)),
          fs_(fs) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (!fs_.Reserve(name_, end_, data.size())) return Full();
      end_ += data.size();
      return target()->Append(data, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (!fs_.Reserve(name_, end_, data.size())) return Full();
      end_ += data.size();
      return target()->Append(data, o, info, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                       uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      if (!fs_.Reserve(name_, offset, data.size())) return Full();
      end_ = std::max(end_, offset + data.size());
      return target()->PositionedAppend(data, offset, o, dbg);
    }
    rocksdb::IOStatus PositionedAppend(
        const rocksdb::Slice& data, uint64_t offset,
        const rocksdb::IOOptions& o, const rocksdb::DataVerificationInfo& info,
        rocksdb::IODebugContext* dbg) override {
      if (!fs_.Reserve(name_, offset, data.size())) return Full();
      end_ = std::max(end_, offset + data.size());
      return target()->PositionedAppend(data, offset, o, info, dbg);
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
      auto s = target()->Truncate(size, o, dbg);
      if (s.ok()) {
        end_ = size;
        fs_.Resize(name_, size);
      }
      return s;
    }
    // Space that RocksDB preallocates is not counted: tmpfs does not
    // reserve it either.

   private:
    static rocksdb::IOStatus Full() {
      return rocksdb::IOStatus::NoSpace("No space left on device (simulated)");
    }
    std::string name_;
    NoSpaceFileSystem& fs_;
    uint64_t end_ = 0;
  };

  // Grows `name` to hold [offset, offset + n) if the capacity allows.
  bool Reserve(const std::string& name, uint64_t offset, uint64_t n) {
    std::lock_guard lock(mu_);
    uint64_t& size = sizes_[name];
    const uint64_t grow = offset + n > size ? offset + n - size : 0;
    if (used_ + grow > capacity_) {
      ++refusals_;
      return false;
    }
    used_ += grow;
    size += grow;
    return true;
  }
  void Resize(const std::string& name, uint64_t size) {
    std::lock_guard lock(mu_);
    uint64_t& current = sizes_[name];
    used_ = used_ - current + size;
    current = size;
  }

  std::atomic<uint64_t> capacity_;
  std::atomic<uint64_t> refusals_{0};
  std::mutex mu_;
  std::map<std::string, uint64_t> sizes_;  // GUARDED_BY(mu_)
  uint64_t used_ = 0;                      // GUARDED_BY(mu_)
};

}  // namespace siteledger::testing
