#pragma once

#include <optional>
#include <string>
#include <vector>

#include "projections/json.h"
#include "projections/views.h"
#include "storage/event_log.h"

namespace siteledger::projections {

// What a client may ask for. Each command turns into zero or more events.
enum class CommandType : uint8_t {
  kCreateSite,            // body {name}
  kUpdateSite,            // id; body {name?, themeId?, homeLayoutId?}
  kDeleteSite,            // id
  kAddDomain,             // id, item = domain
  kRemoveDomain,          // id, item = domain
  kAddSpace,              // id, item = space key
  kRemoveSpace,           // id, item = space key
  kReplaceNavigation,     // id = site; body {items}
  kAddNavigationItem,     // id = site; body {parentId?, index?, item}
  kMoveNavigationItem,    // id = site, item = item id; body {parentId, index}
  kRemoveNavigationItem,  // id = site, item = item id
  kCreateTheme,           // body {name, colors?, fonts?, media?}
  kUpdateTheme,           // id; body as create (replaces the theme)
  kDeleteTheme,           // id
  kCreateLayout,          // body {name, siteId?, sections}
  kSaveLayout,            // id; body as create (replaces the draft)
  kPublishLayout,         // id
  kDeleteLayout,          // id
  kCreateAnnouncement,    // body {text, severity, startsAt, endsAt?, audience}
  kUpdateAnnouncement,    // id; body as create
  kDeleteAnnouncement,    // id
  kSetPromoted,           // id = keyword; body {results}
  kClearPromoted,         // id = keyword
  kSetFeatured,           // id = content id; body {mediaId?, text?}
  kClearFeatured,         // id = content id
  kSubmitFeedback,        // body {text, rating?, contentId?}; needs an actor
  kResolveFeedback,       // id
  kDeleteFeedback,        // id
  kSeeUser,               // body {day}; needs an actor
  kAttachMedia,           // id = media id; body {kind?, type?, size?, ...}
  kDetachMedia,           // id = media id
  kUploadMedia,  // id = media id; body {kind, type, size, width?, height?}
                 // built by the server from the bytes, which come as an
                 // extra write
  kDeleteMedia,  // id = media id: detached, and its bytes deleted
  kRestore,      // body {toSeq} or {asOf}
  kEraseUser,    // subject = the account id; body null. Deletes the
                 // account's pseudonym rows with its user.erased event;
                 // NotFound when the tenant holds no pseudonym for it
};

// As Command::if_match: any current version (If-Match: *), that is, the
// entity must exist.
inline constexpr Sequence kAnyVersion{UINT64_MAX};

struct Command {
  CommandType type;
  std::string id;    // the entity named by the path, if any
  std::string item;  // a second path part (domain, space key, item id)
  Json body;         // the request body (an object), or null
  // The entity's version the client expects (If-Match): PreconditionFailed,
  // writing nothing, if it differs.
  std::optional<Sequence> if_match;
  // A retry with the same key returns the first result (24 h).
  std::string idempotency_key;
  // What makes two requests "the same" for the idempotency key (the HTTP
  // layer passes method, path and body). Empty: the body's canonical form.
  std::string fingerprint;
  // The acting user's Atlassian account id (the JWT's sub); empty for the
  // system or an operator. Stored only as a pseudonym.
  std::string actor;
  // Rows written with the command's events, if it has any (media bytes).
  std::vector<storage::ExtraWrite> extra_writes;
  // The Atlassian account id the command is about rather than by
  // (kEraseUser). Never stored: it only finds its pseudonym's rows.
  std::string subject;
};

// The outcome of a command.
struct CommandResult {
  Sequence first;  // events appended; both 0 when nothing changed
  Sequence last;
  bool replayed = false;          // answered from the idempotency record
  std::optional<ViewKey> entity;  // what the command was about
  std::optional<ViewDoc> view;    // its view afterwards; unset when deleted

  // A compact JSON form kept with the idempotency record, and back.
  // Serialize never fails. Deserialize: Corruption if the text does not
  // parse; missing or unknown parts are left unset (replayed is left
  // false). Both pure, any thread.
  std::string Serialize() const;
  static Result<CommandResult> Deserialize(std::string_view text);
};

// An event a command decided on, before the log gives it a seq.
struct DecidedEvent {
  std::string type;
  Json payload;
};

// Everything Decide needs besides the views.
struct DecideContext {
  std::string actor_pseudonym;  // set when the command has an actor
  // kEraseUser: the pseudonym of the command's subject.
  std::string subject_pseudonym;
  Timestamp now{};
  Sequence head;  // the tenant's version before the command
  // Resolves a time to the seq of the last event at or before it.
  std::function<Result<Sequence>(Timestamp)> seq_at;
  // The most bytes of media a tenant may keep (QuotaExceeded beyond).
  int64_t media_quota_bytes = int64_t{1} << 30;
};

struct Decision {
  std::vector<DecidedEvent> events;
  std::optional<ViewKey> entity;
};

// The schema of a command's body is that of its event, with the ids the
// server sets (from the path, or generated) refused in the body.
// Validates `command` against the current views in `store` and decides its
// events; it reads `store` and never changes it. A command that changes
// nothing (adding a domain the site has) decides no events. Errors:
//   InvalidArgument     a bad body (named by JSON path), including an id in
//                       it that names no entity; a bad restore target
//   NotFound            the entity (or menu item) the path names does not
//                       exist
//   PreconditionFailed  If-Match does not match the entity's version
//   Conflict            e.g. deleting a theme a site uses, a duplicate item
//   QuotaExceeded       an upload beyond media_quota_bytes
//   Internal            the random generator failed (NewId), or a command
//                       type Decide does not know
// and whatever `store` or `context.seq_at` return (e.g. Corruption).
// kRestore returns its event without applying anything: the engine handles
// restores. Any thread that may use `store` (Decide adds no locking); it
// calls `context.seq_at` on the calling thread.
Result<Decision> Decide(const Command& command, ViewStore& store,
                        const DecideContext& context);

// A new random entity id with `prefix`, e.g. "s_3f9c0a6d1b2e4f58". Internal
// when the system's random generator fails (never a fixed id that a second
// failure would repeat); commands that create an entity then fail the same
// way, writing nothing. Any thread.
Result<std::string> NewId(std::string_view prefix);

}  // namespace siteledger::projections
