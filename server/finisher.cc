#include "server/internal/finisher.h"

#include <algorithm>

#include "server/log.h"
#include "server/problem.h"

namespace siteledger::server {

namespace {

// Every answer, streams included: nothing is sniffed into something it is
// not (a JSON view as HTML), no URL of ours (some hold a token) leaves as a
// Referer, and nothing is kept by a cache unless the route says it may be
// (media, whose bytes never change under an id).
void SecureDefaults(HttpResponse& response) {
  auto has = [&](std::string_view name) {
    return std::any_of(response.headers.begin(), response.headers.end(),
                       [&](const auto& h) { return h.first == name; });
  };
  if (!has("X-Content-Type-Options")) {
    response.Set("X-Content-Type-Options", "nosniff");
  }
  if (!has("Referrer-Policy")) response.Set("Referrer-Policy", "no-referrer");
  if (!has("Cache-Control")) response.Set("Cache-Control", "no-store");
}

}  // namespace

void Finisher::Finish(const CallPtr& call, HttpResponse response) {
  if (call->finished) return;
  call->finished = true;
  if (call->audit_access) {
    // No operator access to a tenant's data without a trace: the record is
    // durable before anything is answered.
    storage::AuditRecord a;
    a.actor = call->op->name;
    a.action = call->request.method == "GET" || call->request.method == "HEAD"
                   ? "operator.read"
                   : "operator.write";
    a.tenant = call->tenant;
    // The clientKey asked for, known or not.
    a.client_key =
        call->record ? call->record->client_key : call->Param("clientKey");
    a.outcome = std::to_string(response.status);
    a.reason = call->reason;
    a.route = call->route_label;
    if (auto id = audit_.Append(std::move(a)); !id) {
      server::Log("error", "writing the audit log failed",
                  {{"error", id.error().ToString()}});
      response = Problem(500,
                         "the access could not be recorded; nothing is "
                         "returned");
    }
  }
  Log(*call, response.status, std::chrono::steady_clock::now() - call->start);
  SecureDefaults(response);
  response.Set("X-Request-Id", call->request_id);
  if (!call->cors_origin.empty()) {
    response.Set("Access-Control-Allow-Origin", call->cors_origin);
    response.Set("Vary", "Origin");
    response.Set("Access-Control-Expose-Headers",
                 "ETag, Location, Retry-After, X-Request-Id");
  }
  response.head_only = call->head;
  call->respond(std::move(response));
}

void Finisher::Fail(const CallPtr& call, const Status& status) {
  Finish(call, ProblemFor(status, call->request_id));
}

std::shared_ptr<StreamWriter> Finisher::Stream(const CallPtr& call,
                                               HttpResponse head,
                                               std::function<void()> on_close) {
  // The stream is the response: count it now.
  call->finished = true;
  Log(*call, 200, std::chrono::steady_clock::duration::zero());
  SecureDefaults(head);
  head.Set("X-Request-Id", call->request_id);
  return call->respond.Stream(std::move(head), std::move(on_close));
}

void Finisher::Log(const Call& call, int status,
                   std::chrono::steady_clock::duration elapsed) {
  metrics_.Observe(call.route_index, call.request.method, status,
                   std::chrono::duration<double>(elapsed).count());
  storage::AccessEntry entry;
  entry.time = clock_.Now();
  entry.tenant = call.tenant;
  entry.client_ip = call.client_ip;
  entry.method = call.request.method;
  entry.route = call.route_label;
  entry.status = status;
  entry.request_id = call.request_id;
  entry.latency_us = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  access_log_.Record(std::move(entry));
}

}  // namespace siteledger::server
