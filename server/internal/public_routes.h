#pragma once

#include <string>

#include "server/config.h"
#include "server/event_feed.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/metrics.h"
#include "storage/store.h"

namespace siteledger::server {

// The routes without a credential: liveness, readiness, Prometheus metrics,
// the OpenAPI document and the Atlassian Connect descriptor. Everything it
// is given must outlive it. Safe for concurrent use.
class PublicRoutes {
 public:
  PublicRoutes(storage::Store& store, const Metrics& metrics,
               const EventFeed& feed, Finisher& finisher, const Config& config,
               std::string openapi)
      : store_(store),
        metrics_(metrics),
        feed_(feed),
        finisher_(finisher),
        config_(config),
        openapi_(std::move(openapi)) {}

  // Serves a public route. Call from an HTTP thread.
  void Serve(const CallPtr& call);

  // The metrics in Prometheus' text format.
  std::string RenderMetrics() const;

 private:
  HttpResponse Descriptor() const;
  // Appends the tenant registry's figures (tenants, migrations, purges).
  void RenderRegistryFigures(std::string& out) const;

  storage::Store& store_;  // its log, health and figures
  const Metrics& metrics_;
  const EventFeed& feed_;
  Finisher& finisher_;
  const Config& config_;
  const std::string openapi_;  // built once from the route table
};

}  // namespace siteledger::server
