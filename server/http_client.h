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
  // When given, the request is abandoned (Unavailable) within about a second
  // of it becoming true. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
  // CA certificates (PEM) to verify the server against instead of the
  // system's; empty: the system's.
  std::string ca_file;
};

struct OutboundResponse {
  long status = 0;
  std::string body;
  std::string content_type;
};

// Makes one HTTP(S) request (libcurl; TLS verified against the system's
// CAs, no redirects followed). Unavailable when the peer cannot be reached
// or answers too slowly, or the request was cancelled; TooLarge when the
// answer exceeds its limit.
// Thread-safe; call InitHttpClient() once at start.
Result<OutboundResponse> Fetch(const OutboundRequest& request);
void InitHttpClient();

}  // namespace siteledger::server
