#pragma once

#include <compare>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/json.h"
#include "storage/base/ids.h"

namespace siteledger::projections {

using siteledger::Hash;
using siteledger::Sequence;
using siteledger::Timestamp;

// The kinds of view the projections maintain. The character is the kind's
// prefix in a view row's key.
enum class ViewKind : char {
  kSite = 's',
  kTheme = 't',
  kNavigation = 'n',  // one per site, keyed by site id
  kLayout = 'l',
  kAnnouncement = 'a',
  kPromoted = 'p',  // keyed by normalized keyword
  kFeatured = 'f',  // keyed by Confluence content id
  kFeedback = 'b',
  kUser = 'u',    // keyed by pseudonym
  kMedia = 'm',   // keyed by media id: attachment and references
  kTotals = 'z',  // running totals, keyed by what they count ("media")
};

// "site", "theme", ... ("unknown" outside the enum); and a kind from its key
// character (nullopt for an unknown one). Pure, any thread.
std::string_view ViewKindName(ViewKind kind);
std::optional<ViewKind> ViewKindFromChar(char c);

struct ViewKey {
  ViewKind kind;
  std::string id;
  auto operator<=>(const ViewKey&) const = default;
  bool operator==(const ViewKey&) const = default;
};

// A view document and its version: the seq of the last event that changed
// it (the HTTP layer's ETag).
struct ViewDoc {
  Json doc;
  Sequence version;
  bool operator==(const ViewDoc&) const = default;
};

// What a fold reads and writes. Implementations: the in-memory TenantState
// (rebuilds, as-of reads) and the engine's row store (inline updates).
// Implementations need not be safe for concurrent use: a fold owns its store.
// Errors: Corruption when a stored document does not decode, and whatever
// the backing storage returns (e.g. IOError, NotFound for a destroyed key).
class ViewStore {
 public:
  virtual ~ViewStore() = default;
  // The current document, or nullptr when absent. The pointer is valid until
  // the next Put or Delete.
  virtual Result<const ViewDoc*> Get(const ViewKey& key) = 0;
  // Replace or remove a document; never fail (a store that writes through
  // reports errors when it commits).
  virtual void Put(const ViewKey& key, ViewDoc doc) = 0;
  virtual void Delete(const ViewKey& key) = 0;
  // The document, for the caller to change and Put (or Delete) back: an
  // in-memory state moves it out, others copy it. nullopt when absent.
  virtual Result<std::optional<ViewDoc>> Take(const ViewKey& key);
};

// One event as a fold sees it; the views and the reference point into the
// caller's event and payload, which must outlive it.
struct EventRef {
  Sequence seq;
  Timestamp time;
  std::string_view type;
  std::string_view actor;
  const Json& payload;
};

// Applies one event to the views in `store`: pure and deterministic, the
// same for an inline update, a rebuild and an as-of read. Events naming an
// entity that does not exist change nothing. InvalidArgument for a type
// with no fold (tenant.restored among them: see RestoreTo); otherwise only
// the store's errors, after which the store may be part-changed: discard it.
// REQUIRES: the payload is valid for its type. On the thread that owns
// `store`.
Status Apply(ViewStore& store, const EventRef& event);

// The whole projected state of a tenant at `seq`. Documents are kept as
// their canonical JSON text and parsed only when a fold or a reader touches
// them, so that loading a snapshot or the stored views costs little more
// than copying bytes. Not safe for concurrent use, not even its const
// methods (they cache each row's canonical text): one thread at a time, or
// a copy per thread. Pointers and references it returns are valid until the
// row they belong to is next Put, PutText, Taken or Deleted, or the state is
// destroyed.
class TenantState final : public ViewStore {
 public:
  // Parses the row on first use; Corruption if its text does not parse.
  Result<const ViewDoc*> Get(const ViewKey& key) override;
  void Put(const ViewKey& key, ViewDoc doc) override;
  void Delete(const ViewKey& key) override;
  // Every key of `kind`, in order. Never fails.
  Result<std::vector<ViewKey>> Keys(ViewKind kind);
  // Moves the document out (Corruption as Get); the row is unusable until
  // Put or Delete.
  Result<std::optional<ViewDoc>> Take(const ViewKey& key) override;

  // Adds (or replaces) a row from its stored form (canonical JSON text),
  // unparsed: a bad text shows only when the row is read. Never fails.
  void PutText(const ViewKey& key, Sequence version, std::string text);

  Sequence seq() const { return seq_; }
  void set_seq(Sequence seq) { seq_ = seq; }
  size_t size() const { return rows_.size(); }
  bool Contains(const ViewKey& key) const { return rows_.contains(key); }

  // Every row, parsed, in key order (a copy: for tests and tools). A row
  // whose text does not parse comes out as a null document.
  std::map<ViewKey, ViewDoc> rows() const;
  // The canonical text and version of a row; nullptr when absent.
  const std::string* Text(const ViewKey& key, Sequence* version) const;
  // Visits rows in key order with their canonical text.
  void ForEachText(const std::function<void(const ViewKey&, Sequence,
                                            const std::string&)>& visit) const;

  // SHA-256 over the canonical views (kind, id and document; versions left
  // out, so that a restored state digests like the state it restored).
  // Never fails.
  Hash Digest() const;

  bool operator==(const TenantState& other) const;

 private:
  struct Row {
    Sequence version;
    // Canonical JSON of the document; empty while `doc` holds a change not
    // yet written out.
    mutable std::string text;
    mutable std::optional<ViewDoc> doc;  // parsed on demand
  };
  static const std::string& TextOf(const Row& row);

  std::map<ViewKey, Row> rows_;
  Sequence seq_;
};

// Makes `store`, whose full current content is `current`, equal to `target`:
// rows absent from `target` are deleted, rows whose document differs take
// the target's document with version `seq`, identical rows are untouched.
// Never fails; a target row that does not parse is put as a null document.
// On the thread that owns `store`; `current` and `target` are read only.
void RestoreTo(ViewStore& store, const TenantState& current,
               const TenantState& target, Sequence seq);

// The id of the totals row that counts the sites whose `field` ("themeId"
// or "homeLayoutId") is `id`: "theme:<id>" or "home-layout:<id>". Pure,
// any thread.
std::string UseCountId(std::string_view field, std::string_view id);

// The key under which a promoted-results view is kept for `keyword`:
// ASCII-lowercased, trimmed, inner runs of spaces, tabs and newlines
// collapsed to one space. Pure, any thread.
std::string NormalizeKeyword(std::string_view keyword);

// Whether an announcement document is active at `t`: started (startsAt at
// or before t) and not ended (no endsAt, or endsAt after t). A startsAt that
// is missing or does not parse: false; an endsAt that does not parse: no
// end. Pure, any thread.
bool AnnouncementActiveAt(const Json& doc, Timestamp t);

// Media ids an entity document references (themes, layouts, featured),
// sorted and without repeats; empty for other kinds. Pure, any thread.
std::vector<std::string> MediaReferences(ViewKind kind, const Json& doc);

}  // namespace siteledger::projections
