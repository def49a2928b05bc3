#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "storage/base/status.h"

namespace siteledger::server {

using siteledger::Result;
using siteledger::Status;

struct OutboundRequest {
  std::string method = "GET";
  std::string url;  // http:// or https:// only
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};
  size_t max_response_bytes = 1 << 20;
  // CA certificates (PEM) an https:// server's certificate is checked
  // against instead of libcurl's default bundle (its default CA directory,
  // the system's, still applies). Empty: the system's CAs only. The
  // certificate and its host name are verified either way.
  std::string ca_file;
  // When given, the request is abandoned (Unavailable) within about a second
  // of it becoming true. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

struct OutboundResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::string location;  // a redirect's Location (absolute), else empty
};

// Makes one HTTP(S) request (libcurl; TLS always verified, against the
// system's CAs and request.ca_file; no redirects followed). Unavailable when
// the peer cannot be reached, its certificate is not trusted (or ca_file
// cannot be read), it answers too slowly, or the request was cancelled;
// TooLarge when the answer exceeds its limit.
// Thread-safe; call InitHttpClient() once at start.
Result<OutboundResponse> Fetch(const OutboundRequest& request);
void InitHttpClient();

}  // namespace siteledger::server
