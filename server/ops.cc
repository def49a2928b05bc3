// Health, readiness, metrics and the OpenAPI document.

#include "server/internal/app_impl.h"

namespace siteledger::server {

namespace {

// One unlabelled sample with its HELP and TYPE lines.
void AppendFamily(std::string& out, std::string_view name,
                  std::string_view help, std::string_view type,
                  uint64_t value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  AppendSample(out, name, "", static_cast<double>(value));
}

}  // namespace

std::string App::Impl::RenderMetrics() const {
  std::string out;
  metrics_->Render(out);
  const storage::EventLog::Stats stats = store_.log().stats();
  AppendFamily(out, "siteledger_append_requests_total", "Appends committed.",
               "counter", stats.requests);
  AppendFamily(out, "siteledger_events_appended_total", "Events written.",
               "counter", stats.events);
  AppendFamily(out, "siteledger_group_commits_total",
               "Synced writes of the commit path.", "counter", stats.groups);
  out +=
      "# HELP siteledger_group_commit_size Appends per synced write.\n"
      "# TYPE siteledger_group_commit_size histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < stats.group_size_histogram.size(); ++i) {
    cumulative += stats.group_size_histogram[i];
    const uint64_t le =
        (uint64_t{2} << i) - 1;  // bucket i holds [2^i, 2^(i+1))
    AppendSample(out, "siteledger_group_commit_size_bucket",
                 "le=\"" + std::to_string(le) + "\"",
                 static_cast<double>(cumulative));
  }
  AppendSample(out, "siteledger_group_commit_size_bucket", "le=\"+Inf\"",
               static_cast<double>(cumulative));
  AppendSample(out, "siteledger_group_commit_size_count", "",
               static_cast<double>(stats.groups));
  AppendSample(out, "siteledger_group_commit_size_sum", "",
               static_cast<double>(stats.requests));
  AppendFamily(out, "siteledger_sse_subscribers", "Live event streams.",
               "gauge", feed_.subscribers());
  for (const auto& [name, value] : store_.DatabaseFigures()) {
    const std::string metric = "siteledger_rocksdb_" + name;
    out += "# TYPE " + metric + " gauge\n";
    AppendSample(out, metric, "", static_cast<double>(value));
  }
  return out;
}

void App::Impl::HandleOps(const CallPtr& call) {
  switch (call->route->handler) {
    case kHealthz: {
      Json body = Json::MakeObject();
      body.Set("status", "ok");
      return Finish(call, JsonResponse(200, body));
    }
    case kReadyz: {
      Json body = Json::MakeObject();
      const bool ready = store_.Healthy();
      body.Set("status", ready ? "ready" : "unavailable");
      body.Set("region", config_.region);
      return Finish(call, JsonResponse(ready ? 200 : 503, body));
    }
    case kMetrics: {
      HttpResponse r;
      r.status = 200;
      r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.Set("Cache-Control", "no-store");
      r.body = RenderMetrics();
      return Finish(call, std::move(r));
    }
    case kOpenApi: {
      HttpResponse r;
      r.status = 200;
      r.Set("Content-Type", "application/json");
      r.body = openapi_;
      return Finish(call, std::move(r));
    }
    default:
      return Finish(call, Problem(404, "no route for this path"));
  }
}

}  // namespace siteledger::server
