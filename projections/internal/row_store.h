#pragma once

// The views family as the projector reads and writes it.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "projections/internal/session.h"
#include "projections/views.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// The key of an entity's row in the views family (after the tenant prefix):
// the kind's character and the id; a promoted-results row is keyed by the
// hex HMAC of its keyword instead, since a keyword is a search term a user
// typed. NotFound once the tenant's data key is destroyed.
Result<std::string> ViewRowKey(const storage::EventLog& log, TenantId tenant,
                               const ViewKey& key);

// The write that stores `doc` at `row_key` in the views family, or deletes
// the row when `doc` is null.
storage::ExtraWrite ViewWrite(std::string row_key, const ViewDoc* doc);

// The entity key of a stored row. REQUIRES: `row_key` is a view row's key.
ViewKey KeyOfRow(std::string_view row_key, const ViewDoc& row);

// A row as a command sees it: from `session`'s overlay (in-flight appends)
// when it has the key, else as stored; nullopt if absent. The log's errors.
Result<std::optional<std::string>> ReadRow(const storage::EventLog& log,
                                           Session& session, TenantId tenant,
                                           storage::Family family,
                                           const std::string& key)
    REQUIRES(session.mu);

// The views as a command sees them: committed rows, overlaid with the rows
// of the tenant's in-flight appends, overlaid with this command's changes.
// Lives for one command, under the session's mutex: every method requires
// it held (and asserts so to the analysis, which cannot see through the
// reference).
class RowStore final : public ViewStore {
 public:
  // `log` and `session` must outlive the store.
  RowStore(const storage::EventLog& log, Session& session, TenantId tenant)
      : log_(log), session_(session), tenant_(tenant) {}

  Result<const ViewDoc*> Get(const ViewKey& key) override;
  void Put(const ViewKey& key, ViewDoc doc) override;
  void Delete(const ViewKey& key) override;

  // The rows this command changed, as writes for the append; they become
  // the session's decoded rows. NotFound once the data key is destroyed.
  Status Writes(std::vector<storage::ExtraWrite>& out);

  // The entity's document after this command, or nullopt.
  std::optional<ViewDoc> Current(const ViewKey& key);

  // Records what the event folded since the last call changed, as version
  // rows of event `seq` (see history.h) added to `out`, and the row keys it
  // changed to `changed_rows` when given. NotFound once the data key is
  // destroyed.
  Status EndEvent(Sequence seq, std::vector<storage::ExtraWrite>& out,
                  std::vector<std::string>* changed_rows = nullptr);

 private:
  const storage::EventLog& log_;
  Session& session_;
  const TenantId tenant_;
  std::map<ViewKey, std::shared_ptr<const ViewDoc>> cache_;
  std::set<ViewKey> dirty_;
  std::set<ViewKey> event_changes_;  // since the last EndEvent
};

}  // namespace siteledger::projections::internal
