#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "server/config.h"
#include "server/http_server.h"
#include "server/router.h"
#include "server/routes.h"
#include "storage/store.h"

namespace siteledger::server {

// App is siteledgerd's request handling: routing, authentication (Atlassian
// Connect JWTs, lifecycle tokens), the tenant API over the projections, the
// lifecycle callbacks, and the operational routes. `store` must outlive it.
// Safe for concurrent use.
class App {
 public:
  // `test_clock` (nullptr unless --test-clock) is the store's clock, which
  // POST /admin/clock moves forward; it must outlive the app.
  // `media_url_key` (from --media-url-key-file) signs media URLs; without
  // it, signed URLs are not offered (503).
  App(storage::Store& store, Config config,
      siteledger::TestClock* test_clock = nullptr,
      std::shared_ptr<const storage::MasterKey> media_url_key = nullptr);

  // Re-reads the operators file (SIGHUP); keeps the old operators on error.
  Status ReloadOperators();
  ~App();

  // Serves one request; answers through `respond`, now or later. Call from
  // an HTTP thread (the connection's strand): it may block on synced writes
  // and on fetching an install key. Never from the commit thread.
  void Handle(HttpRequest request, Responder respond);

  // The body limit for a request: 1 MiB for JSON, the largest media kind's
  // limit (plus a multipart envelope) for uploads; 413 beyond. Any thread.
  // LargestBody: the largest of them, for HttpLimits::body_bytes.
  static size_t LargestBody(const Config& config);
  size_t BodyLimit(std::string_view method, std::string_view target) const;

  // Starts the background work: resumes the residency migrations under way
  // and starts the sweeper. Once, after the server listens.
  void Start();

  // Ends live event streams and waits for the appends the app queued to
  // complete (their answers, access-log lines and audit records done). Call
  // once the HTTP server has stopped (HttpServer::Run returned), not from the
  // commit thread.
  void Shutdown();

  // The route table and the router made from it (Route::handler is a row's
  // index in routes()).
  const Router& router() const;
  std::span<const RouteSpec> routes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siteledger::server
