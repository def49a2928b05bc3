#include "storage/access_log.h"

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <set>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/database.h"
#include "storage/key_store.h"

namespace siteledger::storage {
namespace {

constexpr size_t kFlushAt = 4096;
constexpr size_t kKeyBytes = 4 + 8 + 8;
// Format 1: the fields in clear (written before entries were sealed, and
// still read). Format 2: the same fields sealed under the day's key.
constexpr uint8_t kClearFormat = 1;
constexpr uint8_t kSealedFormat = 2;

// Times before the epoch (a query's bound) count as the epoch.
std::string EntryKey(Timestamp t, uint64_t counter) {
  t = std::max(t, Timestamp{});
  std::string key;
  coding::PutU32(key, static_cast<uint32_t>(DayOf(t).value()));
  coding::PutI64(key, MillisOf(t));
  coding::PutU64(key, counter);
  return key;
}

Day DayOfKey(std::string_view key) {
  coding::Reader r(key);
  return Day(r.U32().value_or(0));
}

void PutString(std::string& out, std::string_view s) {
  coding::PutU16(out, static_cast<uint16_t>(std::min<size_t>(s.size(), 65535)));
  out.append(s.substr(0, 65535));
}

// The fields after the format byte.
std::string EncodeFields(const AccessEntry& e) {
  std::string out;
  coding::PutI64(out, MillisOf(e.time));
  coding::PutU64(out, e.tenant.value());
  PutString(out, e.client_ip);
  PutString(out, e.method);
  PutString(out, e.route);
  coding::PutU16(out, static_cast<uint16_t>(e.status));
  coding::PutU32(out, e.latency_us);
  PutString(out, e.request_id);
  return out;
}

Result<AccessEntry> DecodeFields(std::string_view fields) {
  coding::Reader r(fields);
  AccessEntry e;
  auto str = [&](std::string& out) {
    auto len = r.U16();
    auto bytes = len ? r.Bytes(*len) : std::nullopt;
    if (bytes) out.assign(*bytes);
  };
  auto time = r.U64();
  auto tenant = r.U64();
  str(e.client_ip);
  str(e.method);
  str(e.route);
  auto status = r.U16();
  auto latency = r.U32();
  // Entries written before the request id was recorded end here.
  if (!r.done()) str(e.request_id);
  if (r.failed()) {
    return Err(Status::Corruption("an access log entry is malformed"));
  }
  e.time = TimestampFromMillis(static_cast<int64_t>(*time));
  e.tenant = TenantId(*tenant);
  e.status = *status;
  e.latency_us = *latency;
  return e;
}

}  // namespace

AccessLog::AccessLog(internal::Database& database, KeyStore& keys,
                     const Clock& clock)
    : db_(database), keys_(keys), clock_(clock) {
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
  MutexLock write_lock(write_mu_);
  return FlushLocked();
}

Status AccessLog::FlushLocked() {
  // The buffer is taken with write_mu_ held, so that once Retire holds it
  // no entry taken earlier can still be on its way to the database.
  std::vector<AccessEntry> entries;
  {
    MutexLock lock(mu_);
    entries.swap(buffer_);
  }
  if (entries.empty()) return Status::Ok();
  return Write(entries);
}

Status AccessLog::Write(std::vector<AccessEntry>& entries) {
  rocksdb::WriteBatch batch;
  std::map<Day, std::shared_ptr<const AeadKey>> keys;
  for (const AccessEntry& e : entries) {
    uint64_t counter;
    {
      MutexLock lock(mu_);
      counter = ++counter_;
    }
    const Day day = DayOf(e.time);
    auto& key = keys[day];
    if (!key) {
      auto got = keys_.AccessLogKey(day, /*create=*/true);
      if (!got) return got.error();
      key = std::move(*got);
    }
    const std::string row = EntryKey(e.time, counter);
    std::string value;
    coding::PutU8(value, kSealedFormat);
    // The row key is the associated data: a value moved to another row (an
    // older day, another time) does not open.
    SL_RETURN_IF_ERROR(key->SealAppend(EncodeFields(e), row, value));
    batch.Put(db_.cf(Family::kAccessLog), row, value).PermitUncheckedError();
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
    mu_.Unlock();
    // A failed write loses these lines; the database reports its own error
    // to every later writer.
    Flush().IgnoreError();
    mu_.Lock();
  }
  mu_.Unlock();
}

Result<AccessLogPage> AccessLog::Read(const AccessLogQuery& query) const {
  AccessLogPage page;
  std::string start = EntryKey(query.since, 0);
  if (!query.after.empty()) {
    if (query.after.size() != kKeyBytes) {
      return Err(Status::InvalidArgument("not an access log position"));
    }
    // The first key after `after`.
    std::string next = query.after;
    next.push_back('\0');
    start = std::max(start, next);
  }
  std::string end;
  rocksdb::Slice upper;
  rocksdb::ReadOptions ro;
  if (query.until) {
    end = EntryKey(*query.until, 0);
    upper = rocksdb::Slice(end);
    ro.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(Family::kAccessLog)));
  // Keys for this read only: a day destroyed meanwhile stays readable to
  // the end of the read, as if it had been read first.
  std::map<Day, std::shared_ptr<const AeadKey>> keys;
  std::set<Day> destroyed;
  std::string last_key;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const std::string_view row = it->key().ToStringView();
    const std::string_view value = it->value().ToStringView();
    if (row.size() != kKeyBytes || value.empty()) {
      return Err(Status::Corruption("an access log entry is malformed"));
    }
    Result<AccessEntry> e = Err(Status::Internal("unread"));
    const uint8_t format = static_cast<uint8_t>(value[0]);
    if (format == kClearFormat) {
      e = DecodeFields(value.substr(1));
    } else if (format == kSealedFormat) {
      const Day day = DayOfKey(row);
      if (destroyed.contains(day)) continue;
      auto& key = keys[day];
      if (!key) {
        auto got = keys_.AccessLogKey(day, /*create=*/false);
        if (!got && got.error().code() == StatusCode::kNotFound) {
          // Retired, or being retired: its entries go with the key.
          keys.erase(day);
          destroyed.insert(day);
          continue;
        }
        if (!got) return Err(got.error());
        key = std::move(*got);
      }
      auto fields = key->Open(value.substr(1), row);
      if (!fields) {
        return Err(Status::Corruption(
            "an access log entry does not open under its day's key"));
      }
      e = DecodeFields(*fields);
      SecureWipe(*fields);
    } else {
      return Err(
          Status::Corruption("an access log entry has an unknown "
                             "format"));
    }
    if (!e) return Err(e.error());
    if (e->time < query.since) continue;
    if (page.entries.size() == query.limit) {
      page.next = last_key;  // there is one more
      break;
    }
    page.entries.push_back(std::move(*e));
    last_key.assign(row);
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading the access log"));
  return page;
}

Result<AccessLogRetirement> AccessLog::PlanRetire(Timestamp now) const {
  AccessLogRetirement plan;
  plan.cutoff = now - kRetention;
  auto days = keys_.AccessLogKeyDays(DayOf(plan.cutoff));
  if (!days) return Err(days.error());
  plan.days = std::move(*days);
  const std::string end = EntryKey(plan.cutoff, 0);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(Family::kAccessLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++plan.entries;
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading the access log"));
  return plan;
}

Result<AccessLogRetirement> AccessLog::Retire(Timestamp now) {
  // Writes wait for the whole retirement: a write of an old day's entries
  // after its key went would make the day a new key and outlive the cutoff.
  MutexLock write_lock(write_mu_);
  SL_RETURN_ERR_IF_ERROR(FlushLocked());
  AccessLogRetirement done;
  done.cutoff = now - kRetention;
  // The keys first, as a purge destroys a tenant's key first: from then on
  // every copy of those days is unreadable, even if what follows fails.
  // Day d ends at the start of day d + 1, so the days that end at or before
  // the cutoff are those before the cutoff's day.
  auto days = keys_.DestroyAccessLogKeysBefore(DayOf(done.cutoff));
  if (!days) return Err(days.error());
  done.days = std::move(*days);
  const std::set<std::string> files = internal::DataFileNames(db_.path());
  internal::ErasedRange erased;
  SL_RETURN_ERR_IF_ERROR(
      db_.DeleteRangeAndCompact(Family::kAccessLog, std::string(4, '\0'),
                                EntryKey(done.cutoff, 0), &erased));
  done.entries = erased.rows;
  if (done.entries == 0) return done;
  // The compaction dropped the tables that held the entries; the WAL files
  // that hold them go once every family is flushed.
  std::set<std::string> held = files;
  held.merge(internal::DataFileNames(db_.path()));
  SL_RETURN_ERR_IF_ERROR(db_.FlushAll());
  internal::WaitForObsoleteFiles(*db_.db(), db_.path(), held,
                                 std::chrono::seconds(10));
  return done;
}

}  // namespace siteledger::storage
