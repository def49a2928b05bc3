#pragma once

#include "server/internal/call.h"
#include "server/metrics.h"
#include "storage/access_log.h"
#include "storage/audit_log.h"
#include "storage/base/clock.h"

namespace siteledger::server {

// Answers calls: counts them in the metrics, writes the access log and, for
// an operator's access to a tenant's data, the audit record that must be
// durable before anything is answered. All references must outlive it. Safe
// for concurrent use; a call is answered once (later answers are ignored).
class Finisher {
 public:
  Finisher(Metrics& metrics, storage::AccessLog& access_log,
           storage::AuditLog& audit, const Clock& clock)
      : metrics_(metrics),
        access_log_(access_log),
        audit_(audit),
        clock_(clock) {}

  // Answers `call` with `response`. May block on a synced audit write: call
  // it from an HTTP thread (the connection's strand), never from the commit
  // thread (see Later).
  void Finish(const CallPtr& call, HttpResponse response);
  void Fail(const CallPtr& call, const Status& status);

  // Answers with a stream (Server-Sent Events): counts and logs the call as
  // answered 200 now, and returns the writer (nullptr if the connection is
  // gone). `on_close` as Responder::Stream.
  std::shared_ptr<StreamWriter> Stream(const CallPtr& call, HttpResponse head,
                                       std::function<void()> on_close);

  // Runs `work` on the call's connection strand. Completions that arrive on
  // the commit thread go through here, so that rendering the answer and
  // writing the audit record never hold up a group commit. Any thread.
  static void Later(const CallPtr& call, std::function<void()> work) {
    call->respond.Post(std::move(work));
  }

 private:
  void Log(const Call& call, int status,
           std::chrono::steady_clock::duration elapsed);

  Metrics& metrics_;
  storage::AccessLog& access_log_;
  storage::AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace siteledger::server
