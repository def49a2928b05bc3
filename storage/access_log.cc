#include "storage/access_log.h"

#include <rocksdb/db.h>

#include "storage/base/coding.h"
#include "storage/internal/database.h"

namespace siteledger::storage {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr size_t kFlushAt = 4096;

uint32_t DayOf(Timestamp t) {
  return static_cast<uint32_t>(MillisOf(t) / kDayMs);
}

std::string EntryKey(Timestamp t, uint64_t counter) {
  std::string key;
  coding::PutU32(key, DayOf(t));
  coding::PutI64(key, MillisOf(t));
  coding::PutU64(key, counter);
  return key;
}

void PutString(std::string& out, std::string_view s) {
  coding::PutU16(out, static_cast<uint16_t>(std::min<size_t>(s.size(), 65535)));
  out.append(s.substr(0, 65535));
}

std::string EncodeEntry(const AccessEntry& e) {
  std::string out;
  coding::PutU8(out, 1);
  coding::PutI64(out, MillisOf(e.time));
  coding::PutU64(out, e.tenant.value());
  PutString(out, e.client_ip);
  PutString(out, e.method);
  PutString(out, e.route);
  coding::PutU16(out, static_cast<uint16_t>(e.status));
  coding::PutU32(out, e.latency_us);
  return out;
}

Result<AccessEntry> DecodeEntry(std::string_view value) {
  coding::Reader r(value);
  AccessEntry e;
  auto str = [&](std::string& out) {
    auto len = r.U16();
    auto bytes = len ? r.Bytes(*len) : std::nullopt;
    if (bytes) out.assign(*bytes);
  };
  auto format = r.U8();
  auto time = r.U64();
  auto tenant = r.U64();
  str(e.client_ip);
  str(e.method);
  str(e.route);
  auto status = r.U16();
  auto latency = r.U32();
  if (r.failed() || format != 1) {
    return Err(Status::Corruption("an access log entry is malformed"));
  }
  e.time = TimestampFromMillis(static_cast<int64_t>(*time));
  e.tenant = TenantId(*tenant);
  e.status = *status;
  e.latency_us = *latency;
  return e;
}

}  // namespace

AccessLog::AccessLog(internal::Database& database, const Clock& clock)
    : db_(database), clock_(clock) {
  flusher_ = std::thread([this] { FlushLoop(); });
}

AccessLog::~AccessLog() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  flusher_.join();
  // What is left goes out with the last flush; a failure here only loses
  // access-log lines, never data.
  Flush().IgnoreError();
}

void AccessLog::Record(AccessEntry entry) {
  bool full;
  {
    MutexLock lock(mu_);
    buffer_.push_back(std::move(entry));
    full = buffer_.size() >= kFlushAt;
  }
  if (full) cv_.SignalAll();
}

Status AccessLog::Flush() {
  std::vector<AccessEntry> entries;
  {
    MutexLock lock(mu_);
    entries.swap(buffer_);
  }
  if (entries.empty()) return Status::Ok();
  return WriteLocked(entries);
}

Status AccessLog::WriteLocked(std::vector<AccessEntry>& entries) {
  MutexLock write_lock(write_mu_);
  rocksdb::WriteBatch batch;
  for (const AccessEntry& e : entries) {
    uint64_t counter;
    {
      MutexLock lock(mu_);
      counter = ++counter_;
    }
    batch
        .Put(db_.cf(Family::kAccessLog), EntryKey(e.time, counter),
             EncodeEntry(e))
        .PermitUncheckedError();
  }
  // Not synced: losing the last 100 ms of access log in a crash is
  // acceptable; slowing every request down for it is not.
  // Under the disk reserve the entries are dropped, as on any failure.
  SL_RETURN_IF_ERROR(db_.CheckDiskReserve(batch.GetDataSize()));
  rocksdb::WriteOptions wo;
  return internal::FromRocks(db_.db()->Write(wo, &batch),
                             "writing the access log");
}

void AccessLog::FlushLoop() {
  mu_.Lock();
  while (!stopping_) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (!stopping_ && buffer_.size() < kFlushAt) {
      if (!cv_.WaitUntil(mu_, deadline)) break;
    }
    if (buffer_.empty()) continue;
    std::vector<AccessEntry> entries;
    entries.swap(buffer_);
    mu_.Unlock();
    // A failed write loses these lines; the database reports its own error
    // to every later writer.
    WriteLocked(entries).IgnoreError();
    mu_.Lock();
  }
  mu_.Unlock();
}

Result<std::vector<AccessEntry>> AccessLog::Read(Timestamp since,
                                                 size_t limit) const {
  std::vector<AccessEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(
      rocksdb::ReadOptions(), db_.cf(Family::kAccessLog)));
  for (it->Seek(EntryKey(since, 0)); it->Valid() && out.size() < limit;
       it->Next()) {
    auto e = DecodeEntry(it->value().ToStringView());
    if (!e) return Err(e.error());
    if (e->time < since) continue;
    out.push_back(std::move(*e));
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading the access log"));
  return out;
}

Status AccessLog::DeleteBefore(Timestamp cutoff) {
  SL_RETURN_IF_ERROR(Flush());
  // Keys start with the day, then the time: [0, key of cutoff) is exactly
  // every entry older than the cutoff.
  return db_.DeleteRangeAndCompact(Family::kAccessLog, std::string(4, '\0'),
                                   EntryKey(cutoff, 0));
}

}  // namespace siteledger::storage
