#include "server/http_client.h"

#include <curl/curl.h>

#include <memory>

namespace siteledger::server {
namespace {

struct Sink {
  std::string body;
  size_t limit = 0;
  bool overflow = false;
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body.size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

// Returning non-zero makes curl stop with CURLE_ABORTED_BY_CALLBACK.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

}  // namespace

void InitHttpClient() { curl_global_init(CURL_GLOBAL_DEFAULT); }

Result<OutboundResponse> Fetch(const OutboundRequest& request) {
  if (!request.url.starts_with("http://") &&
      !request.url.starts_with("https://")) {
    return siteledger::Err(
        Status::InvalidArgument("only http:// and https:// URLs are fetched"));
  }
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                           &curl_easy_cleanup);
  if (!curl) return siteledger::Err(Status::Internal("curl_easy_init failed"));
  CURL* c = curl.get();
  Sink sink;
  sink.limit = request.max_response_bytes;
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA,
                     const_cast<std::atomic<bool>*>(request.cancel));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  if (!request.body.empty() || request.method == "POST" ||
      request.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      nullptr, &curl_slist_free_all);
  for (const auto& [name, value] : request.headers) {
    const std::string line = name + ": " + value;
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_easy_perform(c);
  if (sink.overflow) {
    return siteledger::Err(Status::TooLarge(
        "the answer exceeds " + std::to_string(request.max_response_bytes) +
        " bytes"));
  }
  if (code != CURLE_OK) {
    // The error buffer says why ("SSL certificate problem: self-signed
    // certificate"); the code's text only what failed.
    std::string why = error[0] != '\0' ? error : curl_easy_strerror(code);
    if (code == CURLE_SSL_CACERT_BADFILE) why += " (" + request.ca_file + ")";
    return siteledger::Err(Status::Unavailable("request failed: " + why));
  }
  OutboundResponse response;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  char* type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) response.content_type = type;
  char* location = nullptr;
  curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
  if (location != nullptr) response.location = location;
  response.body = std::move(sink.body);
  return response;
}

}  // namespace siteledger::server
