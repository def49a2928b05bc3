#pragma once

#include "server/config.h"
#include "server/http_server.h"
#include "storage/store.h"

namespace siteledger::server {

// App routes requests to their handlers. `store` must outlive it.
class App {
 public:
  App(storage::Store& store, const Config& config);

  void Handle(HttpRequest request, Responder respond);

 private:
  storage::Store& store_;
  const Config config_;
};

}  // namespace siteledger::server
