// siteledgerd: serves one data-residency region over HTTP.

#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "projections/projector.h"
#include "server/app.h"
#include "server/config.h"
#include "server/http_client.h"
#include "server/http_server.h"
#include "server/internal/residency.h"
#include "server/log.h"
#include "storage/base/clock.h"
#include "storage/store.h"

namespace sl = siteledger;

namespace {

// The format of the views and their versions this build writes: 3 adds the
// event index (bitmaps of seqs by type, actor and entity; see
// docs/formats.md, "The index family"), 2 keeps every version of every view
// (section 7); data from before (0) kept whole-state snapshots and no
// versions. A rebuild at start brings older data to this format.
constexpr uint32_t kViewsFormat = 3;

// Raises the open-file limit to its hard limit: every connection holds a
// descriptor, and RocksDB keeps its table files open. Logs the limit, and
// warns when it leaves less than 1024 descriptors for the data files beside
// `max_connections`.
void RaiseOpenFileLimit(size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const auto open_files = static_cast<long long>(limit.rlim_cur);
  if (limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < max_connections + 1024) {
    sl::server::Log(
        "warn",
        "the open-file limit leaves fewer than 1024 descriptors for the data "
        "files beside --max-connections; raise it (ulimit -n, or "
        "LimitNOFILE= in a systemd unit) or lower --max-connections",
        {{"open_files", open_files},
         {"max_connections", static_cast<long long>(max_connections)}});
  } else {
    sl::server::Log("info", "open-file limit", {{"open_files", open_files}});
  }
}

// Rebuilds every tenant's views from its log when the data's views are in
// an older format, or when `always`; then records the format. Runs before
// the server takes a request.
sl::Status UpgradeViews(sl::storage::Store& store, bool always) {
  auto format = store.registry().ViewsFormat();
  if (!format) return format.error();
  if (*format == kViewsFormat && !always) return sl::Status::Ok();
  if (*format > kViewsFormat) {
    return sl::Status::Unsupported(
        "the data's views are in format " + std::to_string(*format) +
        ", newer than this build's " + std::to_string(kViewsFormat));
  }
  sl::projections::Projector projector(store.log(), store.clock());
  uint64_t rebuilt = 0;
  sl::TenantId after(0);
  for (;;) {
    auto tenants = store.registry().List(after, 1000);
    if (!tenants) return tenants.error();
    for (const sl::storage::TenantRecord& tenant : *tenants) {
      if (sl::Status s = projector.Rebuild(tenant.id); !s.ok()) {
        return s.WithContext("tenant " + std::to_string(tenant.id.value()));
      }
      ++rebuilt;
    }
    if (tenants->size() < 1000) break;
    after = tenants->back().id;
  }
  SL_RETURN_IF_ERROR(store.registry().SetViewsFormat(kViewsFormat));
  sl::server::Log("info", "rebuilt the views",
                  {{"tenants", static_cast<long long>(rebuilt)},
                   {"format", static_cast<long long>(kViewsFormat)}});
  return sl::Status::Ok();
}

// Adds every tenant's accounts to the region's account index once, for
// data written before the index existed (the index is kept with every
// append since); then records that it is complete. Runs before the server
// takes a request.
sl::Status BuildAccountIndex(sl::storage::Store& store) {
  auto built = store.log().AccountIndexBuilt();
  if (!built) return built.error();
  if (*built) return sl::Status::Ok();
  sl::projections::Projector projector(store.log(), store.clock());
  uint64_t indexed = 0;
  sl::TenantId after(0);
  for (;;) {
    auto tenants = store.registry().List(after, 1000);
    if (!tenants) return tenants.error();
    for (const sl::storage::TenantRecord& tenant : *tenants) {
      if (tenant.state == sl::storage::LifecycleState::kPurged ||
          tenant.residency.state == sl::storage::ResidencyState::kGone) {
        continue;
      }
      sl::Status s = projector.IndexAccounts(tenant.id);
      if (s.code() == sl::StatusCode::kNotFound) continue;  // key destroyed
      if (!s.ok()) {
        return s.WithContext("tenant " + std::to_string(tenant.id.value()));
      }
      ++indexed;
    }
    if (tenants->size() < 1000) break;
    after = tenants->back().id;
  }
  SL_RETURN_IF_ERROR(store.log().MarkAccountIndexBuilt());
  sl::server::Log("info", "indexed the tenants' accounts",
                  {{"tenants", static_cast<long long>(indexed)}});
  return sl::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto config =
        sl::server::ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
    if (!config) {
      std::fprintf(stderr, "siteledgerd: %s\n",
                   config.error().message().c_str());
      return 2;
    }
    if (config->help) {
      std::fputs(sl::server::Usage().c_str(), stdout);
      return 0;
    }
    sl::server::SetLogLevel(config->log_level);
    RaiseOpenFileLimit(config->http.limits.max_connections);
    // The clock: the system's, or one operators can move forward.
    siteledger::SystemClock system_clock;
    siteledger::TestClock test_clock;
    const siteledger::Clock& clock =
        config->test_clock ? static_cast<const siteledger::Clock&>(test_clock)
                           : system_clock;
    if (config->test_clock) {
      sl::server::Log("warn",
                      "--test-clock: operators with the clock scope can move "
                      "time forward; never use this in production");
    }
    sl::storage::StoreOptions store_options;
    store_options.data = config->data;
    store_options.master_key_file = config->master_key_file;
    store_options.region = config->region;
    store_options.clock = &clock;
    store_options.disk_reserve_bytes = config->disk_reserve_bytes;
    store_options.block_cache_bytes = config->block_cache_bytes;
    store_options.log.tenant_log_quota_bytes = config->tenant_log_quota_bytes;
    auto store = sl::storage::Store::Open(store_options);
    if (!store) {
      sl::server::Log("error", "cannot open the store",
                      {{"error", store.error().ToString()}});
      return 1;
    }
    if (auto s = UpgradeViews(**store, config->rebuild_views); !s.ok()) {
      sl::server::Log("error", "cannot rebuild the views",
                      {{"error", s.ToString()}});
      return 1;
    }
    if (config->rebuild_views) return 0;
    if (auto s = BuildAccountIndex(**store); !s.ok()) {
      sl::server::Log("error", "cannot build the account index",
                      {{"error", s.ToString()}});
      return 1;
    }
    if (!config->peer_secret_file.empty()) {
      if (auto secret = sl::server::LoadPeerSecret(config->peer_secret_file);
          !secret) {
        sl::server::Log("error", "cannot load the peer secret",
                        {{"error", secret.error().message()}});
        return 1;
      }
    }
    sl::server::InitHttpClient();
    // The server binds first: the default base URL names the bound port. No
    // request is accepted before Run(), by which time `app` exists.
    std::unique_ptr<sl::server::App> app;
    config->http.on_reload = [&app] {
      // A bad file keeps the old operators; ReloadOperators logs why.
      app->ReloadOperators().IgnoreError();
    };
    config->http.limits.body_bytes = sl::server::App::LargestBody(*config);
    config->http.body_limit = [&app](std::string_view method,
                                     std::string_view target) {
      return app->BodyLimit(method, target);
    };
    config->http.tls_cert_file = config->tls_cert;
    config->http.tls_key_file = config->tls_key;
    const bool tls = !config->tls_cert.empty();
    sl::server::HttpServer http(
        config->http,
        [&app](sl::server::HttpRequest request, sl::server::Responder respond) {
          app->Handle(std::move(request), std::move(respond));
        });
    if (auto s = http.Listen(); !s.ok()) {
      sl::server::Log("error", "cannot listen", {{"error", s.message()}});
      return 1;
    }
    if (config->base_url.empty()) {
      config->base_url = (tls ? "https://" : "http://") + config->http.address +
                         ":" + std::to_string(http.port());
    }
    auto media_key =
        sl::storage::MasterKey::LoadOrCreate(config->media_url_key_file);
    if (!media_key) {
      sl::server::Log("error", "cannot load the media URL key",
                      {{"error", media_key.error().message()}});
      return 1;
    }
    app = std::make_unique<sl::server::App>(
        **store, *config, config->test_clock ? &test_clock : nullptr,
        std::make_shared<const sl::storage::MasterKey>(std::move(*media_key)));
    if (!config->operators_file.empty()) {
      if (auto s = app->ReloadOperators(); !s.ok()) {
        sl::server::Log("error", "cannot load the operators file",
                        {{"error", s.message()}});
        return 1;
      }
    }
    app->Start();
    sl::server::Log("info", "serving",
                    {{"region", config->region},
                     {"data", config->data.string()},
                     {"address", config->http.address},
                     {"base_url", config->base_url},
                     {"tls", tls ? "on" : "off"},
                     {"port", static_cast<int>(http.port())}});
    http.Run();
    app->Shutdown();
    sl::server::Log("info", "stopped");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "siteledgerd: fatal: %s\n", e.what());
    return 1;
  }
}
