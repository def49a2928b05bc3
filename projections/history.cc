#include "projections/internal/history.h"

#include "projections/events.h"
#include "projections/internal/batch_reader.h"
#include "projections/internal/row_store.h"
#include "projections/internal/tenant_states.h"
#include "projections/view_row.h"
#include "storage/base/coding.h"

namespace siteledger::projections::internal {
namespace {

using storage::ExtraWrite;
using storage::Family;
using storage::WriteOp;

constexpr char kVersionTag = 'v';
constexpr char kChangeTag = 'c';
constexpr size_t kSeqBytes = 8;

std::string SeqBytes(Sequence seq) {
  std::string out;
  coding::PutU64(out, seq.value());
  return out;
}

std::string EncodeChanges(const ChangedRows& changed) {
  std::string out;
  for (const auto& [row_key, row] : changed) {
    coding::PutU32(out, static_cast<uint32_t>(row_key.size()));
    out += row_key;
  }
  return out;
}

}  // namespace

// The row key a version key (`key` is the whole key) belongs to; nullopt
// when it is not a well-formed version key.
std::optional<std::string> RowKeyOfVersion(std::string_view key) {
  if (key.size() < 1 + 2 + kSeqBytes || key[0] != kVersionTag) {
    return std::nullopt;
  }
  std::string row_key;
  const std::string_view body = key.substr(1, key.size() - 1 - kSeqBytes);
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\0') {
      row_key.push_back(body[i]);
      continue;
    }
    if (i + 1 >= body.size()) return std::nullopt;
    if (body[i + 1] == '\x01') {
      return i + 2 == body.size() ? std::optional<std::string>(row_key)
                                  : std::nullopt;
    }
    if (body[i + 1] != '\xff') return std::nullopt;
    row_key.push_back('\0');
    ++i;
  }
  return std::nullopt;
}

Status DecodeChanges(std::string_view value, std::set<std::string>& out) {
  coding::Reader r(value);
  while (!r.done()) {
    auto size = r.U32();
    if (!size) break;
    auto key = r.Bytes(*size);
    if (!key) break;
    out.emplace(*key);
  }
  if (r.failed() || !r.done()) {
    return Status::Corruption(
        "a change list in the snapshots family is "
        "malformed");
  }
  return Status::Ok();
}

Status ForEachChange(
    const storage::EventLog& log, TenantId tenant, Sequence first,
    Sequence last,
    const std::function<void(Sequence seq, std::string_view row_key)>& visit) {
  if (first > last) return Status::Ok();
  auto it = log.NewRowIterator(tenant, Family::kSnapshots);
  if (!it) return it.error();
  const std::string end = ChangeKey(last);
  std::set<std::string> keys;
  for ((*it)->Seek(ChangeKey(first));
       (*it)->Valid() && (*it)->key().size() == 1 + kSeqBytes &&
       (*it)->key()[0] == kChangeTag && (*it)->key() <= end;
       (*it)->Next()) {
    const Sequence seq(coding::DecodeU64((*it)->key().data() + 1));
    auto value = (*it)->value();
    if (!value) return value.error();
    keys.clear();
    SL_RETURN_IF_ERROR(DecodeChanges(*value, keys));
    for (const std::string& key : keys) visit(seq, key);
  }
  return (*it)->status();
}

storage::EntitySource IndexEntities(const storage::EventLog& log,
                                    TenantId tenant) {
  return [&log, tenant](Sequence first, Sequence last,
                        const storage::EntityVisitor& visit) {
    return ForEachChange(log, tenant, first, last,
                         [&visit](Sequence seq, std::string_view row_key) {
                           if (!row_key.empty()) {
                             visit(seq, IndexEntityOfRow(row_key));
                           }
                         });
  };
}

Result<ViewKey> ViewKeyOfRow(std::string_view row_key, const std::string& row) {
  if (row_key.empty() || !ViewKindFromChar(row_key[0])) {
    return Err(Status::Corruption("a view version has an unknown kind"));
  }
  if (static_cast<ViewKind>(row_key[0]) != ViewKind::kPromoted) {
    return ViewKey{static_cast<ViewKind>(row_key[0]),
                   std::string(row_key.substr(1))};
  }
  auto doc = DecodeViewRow(row);
  if (!doc) return Err(doc.error());
  return KeyOfRow(row_key, *doc);
}

std::string VersionPrefix(std::string_view row_key) {
  std::string out(1, kVersionTag);
  for (char c : row_key) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  out.push_back('\0');
  out.push_back('\x01');
  return out;
}

std::string VersionKey(std::string_view row_key, Sequence seq) {
  return VersionPrefix(row_key) + SeqBytes(seq);
}

std::string ChangeKey(Sequence seq) {
  return std::string(1, kChangeTag) + SeqBytes(seq);
}

void AddVersionWrites(Sequence seq, const ChangedRows& changed,
                      std::vector<ExtraWrite>& out) {
  if (changed.empty()) return;
  for (const auto& [row_key, row] : changed) {
    out.push_back({Family::kSnapshots, WriteOp::kPut, VersionKey(row_key, seq),
                   row.value_or(std::string())});
  }
  out.push_back({Family::kSnapshots, WriteOp::kPut, ChangeKey(seq),
                 EncodeChanges(changed)});
}

Result<ChangedRows> RowsOf(const storage::EventLog& log, TenantId tenant,
                           ViewStore& store, const std::set<ViewKey>& keys) {
  ChangedRows out;
  for (const ViewKey& key : keys) {
    auto row_key = ViewRowKey(log, tenant, key);
    if (!row_key) return Err(row_key.error());
    auto doc = store.Get(key);
    if (!doc) return Err(doc.error());
    out.emplace(
        std::move(*row_key),
        *doc ? std::optional<std::string>(EncodeViewRow(**doc)) : std::nullopt);
  }
  return out;
}

Result<History> History::Open(const storage::EventLog& log, TenantId tenant) {
  auto it = log.NewRowIterator(tenant, Family::kSnapshots);
  if (!it) return Err(it.error());
  return History(std::move(*it));
}

Result<std::optional<std::string>> History::RowAt(std::string_view row_key,
                                                  Sequence seq) {
  const std::string prefix = VersionPrefix(row_key);
  it_->SeekForPrev(prefix + SeqBytes(seq));
  if (!it_->Valid() || !it_->key().starts_with(prefix)) {
    SL_RETURN_ERR_IF_ERROR(it_->status());
    return std::optional<std::string>();
  }
  auto row = it_->value();
  if (!row) return Err(row.error());
  if (row->empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(*row));
}

Status History::ForEachAt(
    std::string_view prefix, std::string_view start_after, Sequence seq,
    const std::function<bool(std::string_view, const std::string&)>& visit) {
  // The versions of rows starting with `prefix`: the escaped prefix without
  // the terminator.
  std::string range = VersionPrefix(prefix);
  range.resize(range.size() - 2);
  if (start_after.empty()) {
    it_->Seek(range);
  } else {
    SkipPast(VersionPrefix(start_after));
  }
  while (it_->Valid() && it_->key().starts_with(range)) {
    auto row_key = RowKeyOfVersion(it_->key());
    if (!row_key) {
      return Status::Corruption("a view version's key is malformed");
    }
    const std::string entity = VersionPrefix(*row_key);
    it_->SeekForPrev(entity + SeqBytes(seq));
    if (it_->Valid() && it_->key().starts_with(entity)) {
      auto row = it_->value();
      if (!row) return row.error();
      if (!row->empty() && !visit(*row_key, *row)) return Status::Ok();
    }
    SkipPast(entity);
  }
  return it_->status();
}

void History::SkipPast(const std::string& entity) {
  it_->Seek(entity + std::string(kSeqBytes, '\xff'));
  if (it_->Valid() && it_->key().starts_with(entity)) it_->Next();
}

Result<std::set<std::string>> History::ChangedBetween(Sequence after,
                                                      Sequence until) {
  std::set<std::string> out;
  if (until <= after) return out;
  const std::string end = ChangeKey(until);
  for (it_->Seek(ChangeKey(after.next()));
       it_->Valid() && it_->key().starts_with(std::string(1, kChangeTag)) &&
       it_->key() <= end;
       it_->Next()) {
    auto value = it_->value();
    if (!value) return Err(value.error());
    SL_RETURN_ERR_IF_ERROR(DecodeChanges(*value, out));
  }
  SL_RETURN_ERR_IF_ERROR(it_->status());
  return out;
}

Result<Hash> ChangesDigest(const storage::EventLog& log, TenantId tenant,
                           Sequence after, Sequence until) {
  auto history = History::Open(log, tenant);
  if (!history) return Err(history.error());
  auto changed = history->ChangedBetween(after, until);
  if (!changed) return Err(changed.error());
  // Row keys of promoted results hold an HMAC under the region's own data
  // key: entities are named by ViewKey instead.
  std::map<std::pair<int, std::string>, std::string> present;
  std::map<char, uint64_t> deleted;
  for (const std::string& row_key : *changed) {
    auto row = history->RowAt(row_key, until);
    if (!row) return Err(row.error());
    if (!*row) {
      ++deleted[row_key.empty() ? '\0' : row_key[0]];
      continue;
    }
    auto key = ViewKeyOfRow(row_key, **row);
    if (!key) return Err(key.error());
    present.emplace(std::make_pair(static_cast<int>(key->kind), key->id),
                    std::move(**row));
  }
  storage::Sha256Hasher hasher;
  std::string buf;
  for (const auto& [key, row] : present) {
    buf.clear();
    buf.push_back(static_cast<char>(key.first));
    buf += std::to_string(key.second.size()) + ":" + key.second;
    buf += std::to_string(row.size()) + ":";
    hasher.Update(buf);
    hasher.Update(row);
  }
  for (const auto& [kind, n] : deleted) {
    buf = std::string("deleted ") + kind + std::to_string(n) + ";";
    hasher.Update(buf);
  }
  return hasher.Finish();
}

Status RestoreFromHistory(const storage::EventLog& log, TenantId tenant,
                          ViewStore& store, Sequence to, Sequence head,
                          Sequence seq) {
  auto history = History::Open(log, tenant);
  if (!history) return history.error();
  auto changed = history->ChangedBetween(to, head);
  if (!changed) return changed.error();
  for (const std::string& row_key : *changed) {
    auto target = history->RowAt(row_key, to);
    if (!target) return target.error();
    auto current = history->RowAt(row_key, head);
    if (!current) return current.error();
    if (!*target && !*current) continue;
    auto key = ViewKeyOfRow(row_key, *target ? **target : **current);
    if (!key) return key.error();
    if (!*target) {
      store.Delete(*key);
      continue;
    }
    auto target_text = SplitViewRow(**target);
    if (!target_text) return target_text.error();
    if (*current) {
      auto current_text = SplitViewRow(**current);
      if (!current_text) return current_text.error();
      if (current_text->json == target_text->json) continue;
    }
    auto doc = ParseViewRow(seq, target_text->json);
    if (!doc) return doc.error();
    store.Put(*key, std::move(*doc));
  }
  return Status::Ok();
}

namespace {

// The views during a rebuild: the rows the current batch changed, over what
// earlier batches wrote.
class RebuildStore final : public ViewStore {
 public:
  RebuildStore(storage::EventLog& log, const storage::EventIndex& index,
               TenantId tenant)
      : log_(log), index_(index), tenant_(tenant) {}

  Result<const ViewDoc*> Get(const ViewKey& key) override {
    auto it = rows_.find(key);
    if (it == rows_.end()) {
      auto row_key = ViewRowKey(log_, tenant_, key);
      if (!row_key) return Err(row_key.error());
      auto value = log_.GetRow(tenant_, Family::kViews, *row_key);
      if (!value) return Err(value.error());
      Entry entry;
      if (*value) {
        auto doc = DecodeViewRow(**value);
        if (!doc) return Err(doc.error());
        entry.doc = std::move(*doc);
      }
      it = rows_.emplace(key, std::move(entry)).first;
    }
    return it->second.doc ? &*it->second.doc : nullptr;
  }
  void Put(const ViewKey& key, ViewDoc doc) override {
    rows_.insert_or_assign(key, Entry{std::move(doc), true});
    event_changes_.insert(key);
  }
  void Delete(const ViewKey& key) override {
    rows_.insert_or_assign(key, Entry{std::nullopt, true});
    event_changes_.insert(key);
  }
  // Records the changes of `e` as versions, and its event index rows.
  Status EndEvent(const storage::Event& e) {
    auto changed = RowsOf(log_, tenant_, *this, event_changes_);
    if (!changed) return changed.error();
    AddVersionWrites(e.seq, *changed, writes_);
    event_changes_.clear();
    std::vector<std::string> entities;
    for (const auto& [row_key, row] : *changed) {
      entities.emplace_back(IndexEntityOfRow(row_key));
    }
    return index_.AddEvent(tenant_, e.seq, e.type, e.actor, entities,
                           index_batch_);
  }

  // Writes what the batch changed; `sync` at the end.
  Status Flush(bool sync) {
    index_batch_.Drain(writes_);
    for (auto& [key, entry] : rows_) {
      if (!entry.dirty) continue;
      auto row_key = ViewRowKey(log_, tenant_, key);
      if (!row_key) return row_key.error();
      writes_.push_back(
          ViewWrite(std::move(*row_key), entry.doc ? &*entry.doc : nullptr));
    }
    SL_RETURN_IF_ERROR(log_.WriteRows(tenant_, writes_, sync));
    writes_.clear();
    rows_.clear();
    return Status::Ok();
  }

 private:
  struct Entry {
    std::optional<ViewDoc> doc;
    bool dirty = false;
  };
  storage::EventLog& log_;
  const storage::EventIndex& index_;
  const TenantId tenant_;
  storage::IndexBatch index_batch_;
  std::map<ViewKey, Entry> rows_;
  std::set<ViewKey> event_changes_;
  std::vector<ExtraWrite> writes_;
};

}  // namespace

Status RebuildViews(storage::EventLog& log, const storage::EventIndex& index,
                    TenantId tenant) {
  SL_RETURN_IF_ERROR(log.DeleteTenantRows(tenant, Family::kViews));
  SL_RETURN_IF_ERROR(log.DeleteTenantRows(tenant, Family::kSnapshots));
  SL_RETURN_IF_ERROR(log.DeleteTenantRows(tenant, Family::kIndex));
  return FoldViews(log, index, tenant, Sequence(1));
}

Status FoldViews(storage::EventLog& log, const storage::EventIndex& index,
                 TenantId tenant, Sequence from) {
  auto head = log.GetHead(tenant);
  if (!head) return head.error();
  if (from > head->seq) return Status::Ok();
  RebuildStore store(log, index, tenant);
  BatchReader reader(log, tenant, from, head->seq);
  Sequence last(from.value() - 1);
  for (;;) {
    auto events = reader.Next();
    if (!events) return events.error();
    if (events->empty()) break;
    for (const storage::Event& e : *events) {
      auto payload = ParseEventPayload(e);
      if (!payload) return payload.error();
      if (e.type == event::kTenantRestored) {
        // The restore reads the versions written so far.
        SL_RETURN_IF_ERROR(store.Flush(false));
        const Sequence to(static_cast<uint64_t>(payload->GetInt("toSeq")));
        SL_RETURN_IF_ERROR(
            RestoreFromHistory(log, tenant, store, to, last, e.seq));
      } else {
        SL_RETURN_IF_ERROR(
            Apply(store, EventRef{e.seq, e.time, e.type, e.actor, *payload}));
      }
      SL_RETURN_IF_ERROR(store.EndEvent(e));
      last = e.seq;
    }
    reader.Recycle(std::move(*events));
    SL_RETURN_IF_ERROR(store.Flush(false));
  }
  return store.Flush(true);
}

}  // namespace siteledger::projections::internal
