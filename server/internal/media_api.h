#pragma once

#include <memory>
#include <optional>

#include "projections/projector.h"
#include "server/config.h"
#include "server/event_feed.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/internal/tenant_auth.h"
#include "storage/master_key.h"

namespace siteledger::server {

// Media: uploads (raw or multipart), downloads with byte ranges, deletion,
// and signed URLs that serve an image without a token. Everything it is
// given must outlive it. Safe for concurrent use.
class MediaApi {
 public:
  // `url_key` (may be null: signed URLs are then off, 503) signs media URLs
  // and seals the clientKey named in them.
  MediaApi(projections::Projector& projector, const storage::EventLog& log,
           EventFeed& feed, Finisher& finisher, TenantAuth& auth,
           const Clock& clock, const Config& config,
           std::shared_ptr<const storage::MasterKey> url_key)
      : projector_(projector),
        log_(log),
        feed_(feed),
        finisher_(finisher),
        auth_(auth),
        clock_(clock),
        config_(config),
        url_key_(std::move(url_key)) {}

  // Serves `call`: an authenticated tenant's media route (call->tenant
  // set), or a signed URL (no token). Call from an HTTP thread.
  void Serve(const CallPtr& call);

 private:
  void Upload(const CallPtr& call);
  void Delete(const CallPtr& call);
  void SignUrl(const CallPtr& call);
  void ServeSigned(const CallPtr& call);
  // `max_age`: how long the answer may be cached (a signed URL's time
  // left); unset: a year, immutable (the bytes of an id never change).
  void ServeBytes(const CallPtr& call, TenantId tenant,
                  const std::string& media_id,
                  std::optional<int64_t> max_age = std::nullopt);

  projections::Projector& projector_;
  const storage::EventLog& log_;
  EventFeed& feed_;
  Finisher& finisher_;
  TenantAuth& auth_;
  const Clock& clock_;
  const Config& config_;
  const std::shared_ptr<const storage::MasterKey> url_key_;
};

}  // namespace siteledger::server
