#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/base/status.h"

namespace siteledger::server {

using siteledger::Result;
using siteledger::Status;

// Every limit of the HTTP server, in plain sight.
struct HttpLimits {
  size_t header_bytes = 16 * 1024;  // request line and headers
  // The largest body any request may have: checked against Content-Length
  // while the headers are read. A route may allow less (body_limit).
  size_t body_bytes = 1024 * 1024;
  // To read one whole request, from its first byte: headers sent slowly
  // are held no longer than this.
  std::chrono::seconds read_timeout{30};
  // Keep-alive: how long a connection may wait for a request's first byte.
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{30};    // to write one response
  size_t max_connections = 4096;             // further connections are refused
  size_t max_connections_per_address = 256;  // from one client address
  std::chrono::seconds drain_timeout{30};    // in-flight work on shutdown
  // TLS: the handshake has read_timeout. Closing waits this long for the
  // client's close_notify after sending ours.
  std::chrono::seconds tls_close_timeout{2};
};

struct HttpOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 2;
  HttpLimits limits;
  // Serve HTTPS with this certificate chain and private key (PEM files,
  // read by Listen()): both or neither; neither serves plain HTTP. TLS 1.2
  // and 1.3 only, no compression, no renegotiation, forward-secret AEAD
  // ciphers.
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  // The body limit for a request, from its method and target, applied once
  // the headers are in (to Content-Length and to a chunked body as it
  // arrives); at most limits.body_bytes. Unset: limits.body_bytes for every
  // request.
  std::function<size_t(std::string_view method, std::string_view target)>
      body_limit;
  // Called (on a server thread) on SIGHUP.
  std::function<void()> on_reload;
};

// A request as handlers see it: Beast stays inside the server.
struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // path and query, as sent
  // Header names lowercased, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // the peer's IP, for the access log only

  // The first value of header `name` (lowercase), or empty.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // An answer to HEAD: the headers (Content-Length included) but no body.
  bool head_only = false;

  HttpResponse& Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// The body of a response written over time (Server-Sent Events). The
// connection closes when the writer is closed, the client goes away or the
// server drains. Safe to use from any thread.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues `data`; false once the connection is gone.
  virtual bool Write(std::string data) = 0;
  virtual void Close() = 0;
  virtual bool closed() const = 0;
};

// Sends the one response to a request. May be called from any thread, once;
// a Responder dropped without being called answers 500.
class Responder {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void Send(HttpResponse response) = 0;
    virtual std::shared_ptr<StreamWriter> Stream(
        HttpResponse head, std::function<void()> on_close) = 0;
    virtual void Post(std::function<void()> work) = 0;
  };
  explicit Responder(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept = default;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void operator()(HttpResponse response);

  // Answers with `head` (status and headers; its body is ignored) and keeps
  // the connection for the body, written through the returned writer.
  // `on_close` runs once, on any thread, when the connection ends.
  std::shared_ptr<StreamWriter> Stream(HttpResponse head,
                                       std::function<void()> on_close);

  // Runs `work` on the connection's strand, after the caller returns, so
  // that a result arriving on another thread (the commit thread, which must
  // stay quick) is answered from the connection's own. Any thread, before
  // the Responder is called. If the server stops first, `work` is destroyed
  // without running.
  void Post(std::function<void()> work) const;

 private:
  std::shared_ptr<Sink> sink_;
};

// Handles one request; answers through `respond`, now or later.
using HttpHandler = std::function<void(HttpRequest request, Responder respond)>;

// An asynchronous HTTP/1.1 server (Boost.Beast): a strand per connection,
// keep-alive, a timeout on every read and write, body and header limits;
// over TLS when options.tls_cert_file is set, with the same limits.
class HttpServer {
 public:
  HttpServer(HttpOptions options, HttpHandler handler);
  ~HttpServer();

  // Loads the TLS certificate and key (if set), then binds and listens.
  // InvalidArgument, naming the file, if the certificate or key cannot be
  // read or parsed, if only one of them is set, or if they do not match;
  // InvalidArgument if the address is invalid; Unavailable if it is taken.
  // Listens on nothing when it fails.
  Status Listen();
  // The bound port (useful with port 0).
  uint16_t port() const;

  // Serves on `threads` threads until Shutdown() completes; returns then.
  void Run();

  // Graceful drain: stops accepting, lets in-flight requests finish and be
  // answered (up to drain_timeout), closes idle keep-alive connections, then
  // makes Run() return. Safe to call from any thread, more than once.
  void Shutdown();

  // Connections open now.
  size_t connections() const;

  // TLS handshakes that failed since construction (a plain-HTTP request to
  // the TLS port, an untrusting client, a timeout): each connection closed
  // without an answer.
  uint64_t tls_handshake_failures() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siteledger::server
