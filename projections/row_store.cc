#include "projections/internal/row_store.h"

#include "projections/internal/history.h"
#include "projections/view_row.h"
#include "storage/crypto.h"

namespace siteledger::projections::internal {

using storage::ExtraWrite;
using storage::Family;
using storage::WriteOp;

Result<std::string> ViewRowKey(const storage::EventLog& log, TenantId tenant,
                               const ViewKey& key) {
  std::string out(1, static_cast<char>(key.kind));
  if (key.kind == ViewKind::kPromoted) {
    auto h = log.TenantHmac(tenant, "promoted-keyword", key.id);
    if (!h) return Err(h.error());
    out += storage::ToHex(*h);
  } else {
    out += key.id;
  }
  return out;
}

storage::ExtraWrite ViewWrite(std::string row_key, const ViewDoc* doc) {
  if (doc == nullptr) {
    return {Family::kViews, WriteOp::kDelete, std::move(row_key), ""};
  }
  return {Family::kViews, WriteOp::kPut, std::move(row_key),
          EncodeViewRow(*doc)};
}

ViewKey KeyOfRow(std::string_view row_key, const ViewDoc& row) {
  const ViewKind kind = static_cast<ViewKind>(row_key[0]);
  if (kind == ViewKind::kPromoted) {
    return {kind, std::string(row.doc.GetString("keyword"))};
  }
  return {kind, std::string(row_key.substr(1))};
}

Result<std::optional<std::string>> ReadRow(const storage::EventLog& log,
                                           Session& session, TenantId tenant,
                                           Family family,
                                           const std::string& key) {
  auto it = session.overlay.find({family, key});
  if (it != session.overlay.end()) return it->second.value;
  return log.GetRow(tenant, family, key);
}

Result<const ViewDoc*> RowStore::Get(const ViewKey& key) {
  session_.mu.AssertHeld();
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    std::shared_ptr<const ViewDoc> doc;
    if (auto cached = session_.docs.find(key); cached != session_.docs.end()) {
      doc = cached->second;
    } else {
      auto row_key = ViewRowKey(log_, tenant_, key);
      if (!row_key) return Err(row_key.error());
      auto value = ReadRow(log_, session_, tenant_, Family::kViews, *row_key);
      if (!value) return Err(value.error());
      if (*value) {
        auto decoded = DecodeViewRow(**value);
        if (!decoded) return Err(decoded.error());
        doc = std::make_shared<const ViewDoc>(std::move(*decoded));
      }
      session_.CacheDoc(key, doc, *value ? (*value)->size() : 0);
    }
    it = cache_.emplace(key, std::move(doc)).first;
  }
  return it->second.get();
}

void RowStore::Put(const ViewKey& key, ViewDoc doc) {
  cache_.insert_or_assign(key, std::make_shared<const ViewDoc>(std::move(doc)));
  dirty_.insert(key);
  event_changes_.insert(key);
}

void RowStore::Delete(const ViewKey& key) {
  cache_.insert_or_assign(key, nullptr);
  dirty_.insert(key);
  event_changes_.insert(key);
}

Status RowStore::Writes(std::vector<ExtraWrite>& out) {
  session_.mu.AssertHeld();
  for (const ViewKey& key : dirty_) {
    auto row_key = ViewRowKey(log_, tenant_, key);
    if (!row_key) return row_key.error();
    const auto& doc = cache_.at(key);
    out.push_back(ViewWrite(std::move(*row_key), doc.get()));
    session_.CacheDoc(key, doc, out.back().value.size());
  }
  return Status::Ok();
}

Status RowStore::EndEvent(Sequence seq, std::vector<ExtraWrite>& out,
                          std::vector<std::string>* changed_rows) {
  session_.mu.AssertHeld();
  auto changed = RowsOf(log_, tenant_, *this, event_changes_);
  if (!changed) return changed.error();
  AddVersionWrites(seq, *changed, out);
  if (changed_rows != nullptr) {
    for (const auto& [row_key, row] : *changed) changed_rows->push_back(row_key);
  }
  event_changes_.clear();
  return Status::Ok();
}

std::optional<ViewDoc> RowStore::Current(const ViewKey& key) {
  auto doc = Get(key);
  if (!doc || *doc == nullptr) return std::nullopt;
  return **doc;
}

}  // namespace siteledger::projections::internal
