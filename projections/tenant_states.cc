#include "projections/internal/tenant_states.h"

#include "projections/events.h"
#include "projections/internal/batch_reader.h"
#include "projections/internal/history.h"
#include "projections/internal/row_store.h"
#include "projections/view_row.h"

namespace siteledger::projections::internal {
namespace {

using storage::Family;

Status FoldOne(const storage::EventLog& log, TenantId tenant,
               TenantState& state, const storage::Event& e) {
  auto payload = ParseEventPayload(e);
  if (!payload) return payload.error();
  if (e.type == event::kTenantRestored) {
    const Sequence to(static_cast<uint64_t>(payload->GetInt("toSeq")));
    auto target = StateAt(log, tenant, to, false);
    if (!target) return target.error();
    const TenantState current = state;
    RestoreTo(state, current, *target, e.seq);
  } else {
    SL_RETURN_IF_ERROR(
        Apply(state, EventRef{e.seq, e.time, e.type, e.actor, *payload}));
  }
  state.set_seq(e.seq);
  return Status::Ok();
}

// Folds events (state.seq(), until] into `state`.
Status FoldInto(const storage::EventLog& log, TenantId tenant,
                TenantState& state, Sequence until) {
  BatchReader reader(log, tenant, state.seq().next(), until);
  for (;;) {
    auto events = reader.Next();
    if (!events) return events.error();
    if (events->empty()) break;
    for (const storage::Event& e : *events) {
      SL_RETURN_IF_ERROR(FoldOne(log, tenant, state, e));
    }
    reader.Recycle(std::move(*events));
  }
  if (state.seq() < until) {
    return Status::NotFound("the log ends at seq " +
                            std::to_string(state.seq().value()));
  }
  return Status::Ok();
}

}  // namespace

Result<Json> ParseEventPayload(const storage::Event& e) {
  auto payload = ParseJson(e.payload, TrustedJsonLimits());
  if (!payload) {
    return Err(Status::Corruption("event " + std::to_string(e.seq.value()) +
                                  " has a payload that does not parse"));
  }
  return payload;
}

Result<TenantState> CurrentViews(const storage::EventLog& log,
                                 TenantId tenant) {
  TenantState state;
  std::string after;
  for (;;) {
    auto rows = log.ScanRows(tenant, Family::kViews, "", after, 1000);
    if (!rows) return Err(rows.error());
    for (auto& [key, value] : *rows) {
      if (key.empty() || !ViewKindFromChar(key[0])) continue;
      auto text = SplitViewRow(value);
      if (!text) return Err(text.error());
      auto view_key = ViewKeyOfRow(key, value);
      if (!view_key) return Err(view_key.error());
      state.PutText(*view_key, text->version, std::string(text->json));
    }
    if (rows->size() < 1000) break;
    after = rows->back().first;
  }
  auto head = log.GetHead(tenant);
  if (!head) return Err(head.error());
  state.set_seq(head->seq);
  return state;
}

Result<TenantState> StateAt(const storage::EventLog& log, TenantId tenant,
                            Sequence seq, bool from_history) {
  TenantState state;
  if (!from_history) {
    SL_RETURN_ERR_IF_ERROR(FoldInto(log, tenant, state, seq));
    return state;
  }
  auto head = log.GetHead(tenant);
  if (!head) return Err(head.error());
  if (head->seq < seq) {
    return Err(Status::NotFound("the log ends at seq " +
                                std::to_string(head->seq.value())));
  }
  auto history = History::Open(log, tenant);
  if (!history) return Err(history.error());
  Status visited = Status::Ok();
  SL_RETURN_ERR_IF_ERROR(history->ForEachAt(
      "", "", seq, [&](std::string_view row_key, const std::string& row) {
        auto key = ViewKeyOfRow(row_key, row);
        auto text = SplitViewRow(row);
        if (!key || !text) {
          visited = !key ? key.error() : text.error();
          return false;
        }
        state.PutText(*key, text->version, std::string(text->json));
        return true;
      }));
  SL_RETURN_ERR_IF_ERROR(visited);
  state.set_seq(seq);
  return state;
}

}  // namespace siteledger::projections::internal
