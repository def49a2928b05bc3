#pragma once

#include <span>
#include <string_view>

#include "projections/json.h"
#include "projections/schema.h"

namespace siteledger::projections {

// The event catalogue. Every payload is a JSON object whose first field is
// "v" (the payload version, 1 today) and whose shape is fixed by its type's
// schema; unknown fields are refused.
namespace event {
inline constexpr std::string_view kSiteCreated = "site.created";
inline constexpr std::string_view kSiteRenamed = "site.renamed";
inline constexpr std::string_view kSiteDeleted = "site.deleted";
inline constexpr std::string_view kSiteDomainAdded = "site.domain_added";
inline constexpr std::string_view kSiteDomainRemoved = "site.domain_removed";
inline constexpr std::string_view kSiteSpaceAdded = "site.space_added";
inline constexpr std::string_view kSiteSpaceRemoved = "site.space_removed";
inline constexpr std::string_view kSiteThemeAssigned = "site.theme_assigned";
inline constexpr std::string_view kSiteHomeLayoutSet = "site.home_layout_set";
inline constexpr std::string_view kThemeCreated = "theme.created";
inline constexpr std::string_view kThemeUpdated = "theme.updated";
inline constexpr std::string_view kThemeDeleted = "theme.deleted";
inline constexpr std::string_view kNavigationReplaced = "navigation.replaced";
inline constexpr std::string_view kNavigationItemAdded =
    "navigation.item_added";
inline constexpr std::string_view kNavigationItemMoved =
    "navigation.item_moved";
inline constexpr std::string_view kNavigationItemRemoved =
    "navigation.item_removed";
inline constexpr std::string_view kLayoutSaved = "layout.saved";
inline constexpr std::string_view kLayoutPublished = "layout.published";
inline constexpr std::string_view kLayoutDeleted = "layout.deleted";
inline constexpr std::string_view kAnnouncementPublished =
    "announcement.published";
inline constexpr std::string_view kAnnouncementUpdated = "announcement.updated";
inline constexpr std::string_view kAnnouncementDeleted = "announcement.deleted";
inline constexpr std::string_view kPromotedSet = "promoted.set";
inline constexpr std::string_view kPromotedCleared = "promoted.cleared";
inline constexpr std::string_view kFeaturedSet = "featured.set";
inline constexpr std::string_view kFeaturedCleared = "featured.cleared";
inline constexpr std::string_view kFeedbackSubmitted = "feedback.submitted";
inline constexpr std::string_view kFeedbackResolved = "feedback.resolved";
inline constexpr std::string_view kFeedbackDeleted = "feedback.deleted";
inline constexpr std::string_view kUserSeen = "user.seen";
// An operator erased the person behind the pseudonym: their account id is
// no longer kept (the events keep the pseudonym).
inline constexpr std::string_view kUserErased = "user.erased";
inline constexpr std::string_view kMediaAttached = "media.attached";
inline constexpr std::string_view kMediaUploaded = "media.uploaded";
inline constexpr std::string_view kMediaDetached = "media.detached";
inline constexpr std::string_view kTenantRestored = "tenant.restored";
}  // namespace event

inline constexpr int64_t kPayloadVersion = 1;

// Limits of the data model.
inline constexpr size_t kMaxNavigationDepth = 4;
inline constexpr size_t kMaxNavigationItems = 500;

// The schema of an event type, or nullptr for an unknown type. The schemas
// are built once and live for the whole program. Any thread.
const schema::Validator* EventSchema(std::string_view type);

// All event types, in catalogue order; a static list. Any thread.
std::span<const std::string_view> EventTypes();

// Validates a payload for `type`: the forbidden-content checks first, then
// the schema. InvalidArgument names the JSON path ("$.items[2].label: ...");
// an unknown `type` is InvalidArgument too. Pure, any thread.
Status ValidatePayload(std::string_view type, const Json& payload);

// The schemas of parts shared with commands: built once, live for the
// whole program. Any thread.
const schema::V& NavigationItemSchema();
const schema::V& LinkSchema();
// The JSON Schema of one navigation item (children refer to it as
// #/components/schemas/NavigationItem). Never fails; any thread.
Json NavigationItemJsonSchema();

}  // namespace siteledger::projections
