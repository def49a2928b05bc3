#include "server/http_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "server/log.h"
#include "server/problem.h"
#include "storage/base/mutex.h"

namespace siteledger::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

Responder::~Responder() {
  if (sink_) {
    sink_->Send(Problem(500, "the request was dropped without an answer"));
  }
}

void Responder::operator()(HttpResponse response) {
  if (!sink_) return;
  auto sink = std::move(sink_);
  sink->Send(std::move(response));
}

void Responder::Post(std::function<void()> work) const {
  if (sink_) sink_->Post(std::move(work));
}

std::shared_ptr<StreamWriter> Responder::Stream(
    HttpResponse head, std::function<void()> on_close) {
  if (!sink_) return nullptr;
  auto sink = std::move(sink_);
  return sink->Stream(std::move(head), std::move(on_close));
}

class HttpServer::Impl {
 public:
  class Connection;
  // One per stream type: beast::tcp_stream (HTTP) or TlsStream (HTTPS).
  template <class StreamType>
  class Session;

  Impl(HttpOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        workers_(MakeWorkers(std::max(1, options_.threads))),
        ioc_(*workers_[0]),
        acceptor_(asio::make_strand(ioc_)),
        signals_(ioc_),
        drain_timer_(ioc_),
        accept_timer_(ioc_) {}

  // One io_context per thread, each run by its own thread: a connection
  // stays on the context that accepted it, so its handlers never wake
  // another thread (measured: about a third more requests per second on two
  // cores than one context shared by two threads).
  static std::vector<std::unique_ptr<asio::io_context>> MakeWorkers(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(std::make_unique<asio::io_context>(1));
    }
    return out;
  }

  Status Listen();
  Status LoadTls();
  void OnHandshakeFailed(const beast::error_code& ec);
  void Run();
  void WaitForSignal();
  void Shutdown();
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void CheckDrained();

  // False, registering nothing, when the server or the session's address
  // is at its connection limit.
  bool Register(const std::shared_ptr<Connection>& s);
  void Unregister(Connection* s);

  // Declared before the io_context: sessions destroyed with it unregister
  // themselves here.
  mutable Mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> sessions_
      GUARDED_BY(mu_);
  std::unordered_map<std::string, size_t> per_address_ GUARDED_BY(mu_);
  HttpOptions options_;
  HttpHandler handler_;
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  asio::io_context& ioc_;  // workers_[0]: the acceptor, signals and drain
  std::atomic<size_t> next_worker_{0};
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  // Accepting again after a failed accept (out of file descriptors): not
  // at once, which would spin a core while nothing can be accepted.
  asio::steady_timer accept_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::atomic<bool> draining_{false};
  // Set once Run's contexts have stopped: work posted to a connection after
  // that runs on the posting thread (see Sink::Post).
  Mutex post_mu_;
  bool stopped_ GUARDED_BY(post_mu_) = false;
  std::atomic<uint16_t> port_{0};
  // Set by Listen() when serving HTTPS; read-only afterwards, shared by
  // every connection (OpenSSL allows that across threads).
  std::optional<ssl::context> tls_;
  std::atomic<uint64_t> tls_handshake_failures_{0};
};

// What the server holds of a connection, whatever its stream.
class HttpServer::Impl::Connection
    : public std::enable_shared_from_this<Connection> {
 public:
  virtual ~Connection() = default;
  virtual void Start() = 0;
  // Closes a connection over a limit without reading from it.
  virtual void Refuse() = 0;
  // Closes the connection if it waits for a request; otherwise it closes
  // after the response in flight.
  virtual void Drain() = 0;

  const std::string& remote() const { return remote_; }
  bool registered_ = false;  // counted in the server's maps (under its mu_)

 protected:
  std::string remote_;
};

// One connection. Every handler runs on the connection's strand. Over TLS
// the handshake comes first and Close() sends close_notify; everything else
// is the same code for both streams.
template <class StreamType>
class HttpServer::Impl::Session final : public Connection {
 public:
  static constexpr bool kTls = std::is_same_v<StreamType, TlsStream>;

  // `args`: the TLS context, for TlsStream.
  template <class... Args>
  Session(tcp::socket&& socket, Impl& server, Args&... args)
      : stream_(std::move(socket), args...), server_(server) {
    beast::error_code ec;
    auto endpoint = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }
  ~Session() override {
    EndStream();
    server_.Unregister(this);
  }

  void Refuse() override {
    beast::error_code ignored;
    Tcp().socket().close(ignored);
  }

  void Start() override {
    asio::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->DoHandshake();
      } else {
        self->DoRead();
      }
    });
  }

  void Drain() override {
    asio::dispatch(stream_.get_executor(), [self = Self()] {
      self->draining_ = true;
      if (!self->busy_ || self->streaming_) self->Close();
    });
  }

  // Streaming responses (Server-Sent Events).
  class Writer final : public StreamWriter {
   public:
    explicit Writer(std::shared_ptr<Session> s) : session_(std::move(s)) {}
    bool Write(std::string data) override {
      if (closed()) return false;
      asio::dispatch(session_->stream_.get_executor(),
                     [s = session_, d = std::move(data)]() mutable {
                       s->QueueStreamWrite(std::move(d));
                     });
      return true;
    }
    void Close() override {
      asio::dispatch(session_->stream_.get_executor(),
                     [s = session_] { s->Close(); });
    }
    bool closed() const override {
      return session_->stream_closed_.load(std::memory_order_acquire);
    }

   private:
    std::shared_ptr<Session> session_;
  };

  std::shared_ptr<StreamWriter> StartStream(HttpResponse head,
                                            std::function<void()> on_close) {
    auto writer = std::make_shared<Writer>(Self());
    asio::dispatch(stream_.get_executor(),
                   [self = Self(), h = std::move(head),
                    cb = std::move(on_close)]() mutable {
                     self->BeginStream(std::move(h), std::move(cb));
                   });
    return writer;
  }

  void Send(HttpResponse response) {
    asio::dispatch(stream_.get_executor(),
                   [self = Self(), r = std::move(response)]() mutable {
                     self->DoWrite(std::move(r));
                   });
  }

 private:
  class Sink final : public Responder::Sink {
   public:
    explicit Sink(std::shared_ptr<Session> s) : session_(std::move(s)) {}
    void Send(HttpResponse response) override {
      session_->Send(std::move(response));
    }
    std::shared_ptr<StreamWriter> Stream(
        HttpResponse head, std::function<void()> on_close) override {
      return session_->StartStream(std::move(head), std::move(on_close));
    }
    void Post(std::function<void()> work) override {
      {
        // Posted before the contexts stopped: Run polls it.
        MutexLock lock(session_->server_.post_mu_);
        if (!session_->server_.stopped_) {
          asio::post(session_->stream_.get_executor(),
                     [s = session_, w = std::move(work)] { RunPosted(w); });
          return;
        }
      }
      // After: the answer goes nowhere, but the work (its access-log line,
      // an operator's audit record) must still be done.
      RunPosted(work);
    }
    static void RunPosted(const std::function<void()>& work) {
      try {
        work();
      } catch (const std::exception& e) {
        Log("error", "posted work threw", {{"error", e.what()}});
      } catch (...) {
        Log("error", "posted work threw a non-exception");
      }
    }

   private:
    std::shared_ptr<Session> session_;
  };

  std::shared_ptr<Session> Self() {
    return std::static_pointer_cast<Session>(shared_from_this());
  }

  // The TCP stream, which carries the timeouts.
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  // What a streamed body is written to and read from: the socket itself for
  // HTTP (no timeout: a stream lasts), the TLS layer for HTTPS.
  auto& Raw() {
    if constexpr (kTls) {
      return stream_;
    } else {
      return stream_.socket();
    }
  }

  void DoHandshake() {
    Tcp().expires_after(server_.options_.limits.read_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&Session::OnHandshake, Self()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      server_.OnHandshakeFailed(ec);
      beast::error_code ignored;
      Tcp().socket().close(ignored);
      return;
    }
    tls_usable_ = true;
    DoRead();
  }

  void DoRead() {
    if (draining_) {
      Close();
      return;
    }
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(server_.options_.limits.header_bytes));
    body_limit_ = server_.options_.limits.body_bytes;
    parser_->body_limit(body_limit_);
    if (buffer_.size() > 0) return ReadHeader();  // pipelined: already here
    // Idle until the request's first byte; from then on the whole request
    // has read_timeout, so slow headers cannot hold the connection longer.
    Tcp().expires_after(server_.options_.limits.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096),
        beast::bind_front_handler(&Session::OnFirstBytes, Self()));
  }

  void OnFirstBytes(beast::error_code ec, std::size_t bytes) {
    if (ec) return OnReadError(ec);
    buffer_.commit(bytes);
    ReadHeader();
  }

  void ReadHeader() {
    Tcp().expires_after(server_.options_.limits.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnReadHeader, Self()));
  }

  void OnReadHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    // The route's own limit, now that the method and target are known: the
    // parser checked Content-Length only against the largest of them.
    body_limit_ = server_.options_.limits.body_bytes;
    if (server_.options_.body_limit) {
      const auto& header = parser_->get();
      body_limit_ = std::min(
          body_limit_,
          server_.options_.body_limit(std::string_view(header.method_string()),
                                      std::string_view(header.target())));
    }
    if (auto length = parser_->content_length();
        length && *length > body_limit_) {
      return OnReadError(http::error::body_limit);
    }
    parser_->body_limit(body_limit_);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, Self()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset ||
        ec == ssl::error::stream_truncated ||
        ec.category() == asio::error::get_ssl_category()) {
      // The client is gone, or (over TLS) closed without close_notify or
      // sent records that do not decrypt: nothing can be answered, and our
      // close_notify would go nowhere.
      tls_usable_ = false;
      return Close();
    }
    // A malformed or oversized request: answer, then close, since the rest
    // of the stream cannot be trusted to start at a request boundary.
    keep_alive_ = false;
    busy_ = true;
    if (ec == http::error::body_limit) {
      DoWrite(Problem(413, "the request body exceeds " +
                               std::to_string(body_limit_) + " bytes"));
    } else if (ec == http::error::header_limit) {
      DoWrite(Problem(431,
                      "the request line and headers exceed " +
                          std::to_string(server_.options_.limits.header_bytes) +
                          " bytes"));
    } else {
      DoWrite(Problem(400, "malformed HTTP request: " + ec.message()));
    }
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    Tcp().expires_never();
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    request.headers.reserve(8);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(msg.body());
    request.remote_address = remote_;
    parser_.reset();
    Responder respond(std::make_shared<Sink>(Self()));
    try {
      server_.handler_(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      Log("error", "request handler threw", {{"error", e.what()}});
    } catch (...) {
      Log("error", "request handler threw a non-exception");
    }
    // If the handler threw, `respond` (moved into it) answered 500 when it
    // was destroyed during unwinding.
  }

  void DoWrite(HttpResponse r) {
    if (wrote_response_ || closing_) return;  // one response per request
    wrote_response_ = true;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    for (auto& [k, v] : r.headers) res->insert(k, v);
    res->set(http::field::server, "siteledgerd");
    res->body() = std::move(r.body);
    const bool keep = keep_alive_ && !draining_ &&
                      !server_.draining_.load(std::memory_order_relaxed);
    res->keep_alive(keep);
    if (r.head_only) {
      res->content_length(res->body().size());
      res->body().clear();
    } else {
      res->prepare_payload();
    }
    Tcp().expires_after(server_.options_.limits.write_timeout);
    http::async_write(stream_, *res,
                      [self = Self(), res](beast::error_code ec, std::size_t) {
                        self->OnWrite(ec, res->need_eof());
                      });
  }

  void OnWrite(beast::error_code ec, bool close) {
    busy_ = false;
    wrote_response_ = false;
    if (ec || close) return Close();
    DoRead();
  }

  void Close() {
    if constexpr (kTls) {
      if (closing_) return;
      closing_ = true;
      EndStream();
      if (!tls_usable_ || !Tcp().socket().is_open()) return CloseSocket();
      // close_notify tells the client that a body ending with the connection
      // (an event stream) is whole. Everything from here, the write in
      // flight included, is bounded by this timer; drain waits for it, as
      // the session unregisters only then. Our own timer: a streaming
      // session has a read and a write pending, when the tcp_stream's
      // expiry cannot be changed.
      close_timer_.emplace(stream_.get_executor());
      close_timer_->expires_after(server_.options_.limits.tls_close_timeout);
      close_timer_->async_wait([self = Self()](beast::error_code ec) {
        if (!ec) self->CloseSocket();  // else cancelled: already closed
      });
      // asio's TLS stream loses close_notify if asked for it during a
      // write: a streamed frame in flight sends it when done.
      if (stream_queue_.empty()) SendCloseNotify();
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.socket().close(ec);
      EndStream();
    }
  }

  // TLS only.
  void SendCloseNotify() {
    stream_.async_shutdown(
        [self = Self()](beast::error_code) { self->CloseSocket(); });
  }

  void CloseSocket() {
    if (close_timer_) close_timer_->cancel();
    beast::error_code ignored;
    Tcp().socket().close(ignored);
  }

  void BeginStream(HttpResponse head, std::function<void()> on_close) {
    if (wrote_response_) return;
    wrote_response_ = true;
    streaming_ = true;
    on_stream_close_ = std::move(on_close);
    if (draining_ || closing_ || !Tcp().socket().is_open()) return Close();
    std::string out = "HTTP/1.1 " + std::to_string(head.status) + " " +
                      std::string(http::obsolete_reason(
                          static_cast<http::status>(head.status))) +
                      "\r\n";
    for (const auto& [k, v] : head.headers) out += k + ": " + v + "\r\n";
    // The body ends when the connection does.
    out += "Server: siteledgerd\r\nConnection: close\r\n\r\n";
    Tcp().expires_never();
    // Watch for the client going away: it sends nothing more.
    Raw().async_read_some(
        asio::buffer(peek_, sizeof peek_),
        [self = Self()](beast::error_code, std::size_t) { self->Close(); });
    QueueStreamWrite(std::move(out));
  }

  void QueueStreamWrite(std::string data) {
    if (stream_closed_.load(std::memory_order_acquire)) return;
    stream_queue_.push_back(std::move(data));
    if (stream_queue_.size() == 1) DoStreamWrite();
  }

  // The front of the queue is the buffer being written: it stays until its
  // write completes, even if the stream closes meanwhile.
  void DoStreamWrite() {
    asio::async_write(
        Raw(), asio::buffer(stream_queue_.front()),
        [self = Self()](beast::error_code ec, std::size_t) {
          self->stream_queue_.pop_front();
          if constexpr (kTls) {
            if (self->closing_) {  // Close() waited for this write
              self->stream_queue_.clear();
              return ec ? self->CloseSocket() : self->SendCloseNotify();
            }
          }
          if (ec) return self->Close();
          if (self->stream_closed_.load(std::memory_order_acquire)) {
            self->stream_queue_.clear();
            return;
          }
          if (!self->stream_queue_.empty()) self->DoStreamWrite();
        });
  }

  void EndStream() {
    if (!streaming_ || stream_closed_.exchange(true)) return;
    // Only frames not yet started may go; see DoStreamWrite.
    if (stream_queue_.size() > 1) {
      stream_queue_.erase(stream_queue_.begin() + 1, stream_queue_.end());
    }
    if (on_stream_close_) {
      auto cb = std::move(on_stream_close_);
      cb();
    }
  }

  StreamType stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Impl& server_;
  // TLS only: handshake done, no TLS error since (close_notify can be sent).
  bool tls_usable_ = false;
  bool closing_ = false;  // TLS only: close_notify sent or sending
  std::optional<asio::steady_timer> close_timer_;  // TLS only: Close()
  bool busy_ = false;
  bool keep_alive_ = true;
  size_t body_limit_ = 0;  // this request's, once its headers are in
  bool draining_ = false;
  bool wrote_response_ = false;
  bool streaming_ = false;
  std::atomic<bool> stream_closed_{false};
  std::deque<std::string> stream_queue_;
  std::function<void()> on_stream_close_;
  char peek_[64];
};

namespace {

// The whole of a PEM file, or InvalidArgument naming it.
Result<std::string> ReadPem(std::string_view what,
                            const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return Err(Status::InvalidArgument(std::string(what) + " '" +
                                       path.string() + "' cannot be read"));
  }
  return std::move(text).str();
}

}  // namespace

Status HttpServer::Impl::LoadTls() {
  const HttpOptions& o = options_;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return Status::Ok();
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both a certificate file and a key file");
  }
  auto cert = ReadPem("TLS certificate file", o.tls_cert_file);
  if (!cert) return cert.error();
  auto key = ReadPem("TLS key file", o.tls_key_file);
  if (!key) return key.error();
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Client-initiated renegotiation costs the server a handshake each time.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // TLS 1.2: forward-secret AEAD suites only (Mozilla's "intermediate").
  // TLS 1.3's suites are all of that kind; OpenSSL's defaults stay.
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:"
                          "ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:"
                          "ECDHE-RSA-CHACHA20-POLY1305");
  beast::error_code ec;
  ctx.use_certificate_chain(asio::buffer(*cert), ec);
  if (ec) {
    return Status::InvalidArgument(
        "TLS certificate file '" + o.tls_cert_file.string() +
        "' holds no usable PEM certificate: " + ec.message());
  }
  // Checked against the certificate loaded above.
  ctx.use_private_key(asio::buffer(*key), ssl::context::pem, ec);
  OPENSSL_cleanse(key->data(), key->size());
  if (ec && ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
          X509_R_KEY_VALUES_MISMATCH) {
    return Status::InvalidArgument("TLS key file '" + o.tls_key_file.string() +
                                   "' does not match the certificate in '" +
                                   o.tls_cert_file.string() + "'");
  }
  if (ec) {
    return Status::InvalidArgument(
        "TLS key file '" + o.tls_key_file.string() +
        "' holds no usable PEM private key: " + ec.message());
  }
  tls_.emplace(std::move(ctx));
  return Status::Ok();
}

void HttpServer::Impl::OnHandshakeFailed(const beast::error_code& ec) {
  // Scanners and plain-HTTP clients can fail handshakes as fast as they
  // connect: log the 1st, 2nd, 4th, 8th... with the count, so the log stays
  // small and the rate still shows. OpenSSL's reason only ("http request",
  // "unsupported protocol"): no client address.
  const uint64_t n =
      tls_handshake_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if ((n & (n - 1)) == 0) {
    Log("info", "TLS handshake failed; connection closed",
        {{"error", ec.message()}, {"failures", n}});
  }
}

Status HttpServer::Impl::Listen() {
  SL_RETURN_IF_ERROR(LoadTls());
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.address, ec);
  if (ec) {
    return Status::InvalidArgument("--listen: '" + options_.address +
                                   "' is not an IP address");
  }
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options_.address + ":" +
                               std::to_string(options_.port) + ": " +
                               ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  asio::io_context& worker =
      *workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) %
                workers_.size()];
  acceptor_.async_accept(asio::make_strand(worker),
                         beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (draining_) return;
  if (ec && ec != asio::error::operation_aborted) {
    // EMFILE, ENFILE, ENOBUFS: the connections already held go on; new
    // ones wait in the listen queue until a descriptor is free.
    Log("warn", "accepting a connection failed; retrying in 100 ms",
        {{"error", ec.message()}});
    accept_timer_.expires_after(std::chrono::milliseconds(100));
    accept_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !draining_) DoAccept();
    });
    return;
  }
  if (!ec) {
    std::shared_ptr<Connection> session;
    if (tls_) {
      session =
          std::make_shared<Session<TlsStream>>(std::move(socket), *this, *tls_);
    } else {
      session = std::make_shared<Session<beast::tcp_stream>>(std::move(socket),
                                                             *this);
    }
    // One client address cannot take every connection.
    if (Register(session)) {
      session->Start();
    } else {
      session->Refuse();
    }
  }
  DoAccept();
}

bool HttpServer::Impl::Register(const std::shared_ptr<Connection>& s) {
  MutexLock lock(mu_);
  size_t& from_address = per_address_[s->remote()];
  if (sessions_.size() >= options_.limits.max_connections ||
      from_address >= options_.limits.max_connections_per_address) {
    if (from_address == 0) per_address_.erase(s->remote());
    return false;
  }
  ++from_address;
  sessions_.emplace(s.get(), s);
  s->registered_ = true;
  return true;
}

void HttpServer::Impl::Unregister(Connection* s) {
  MutexLock lock(mu_);
  if (!s->registered_) return;
  sessions_.erase(s);
  auto it = per_address_.find(s->remote());
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

void HttpServer::Impl::WaitForSignal() {
  signals_.async_wait([this](beast::error_code ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      Log("info", "SIGHUP received; reloading");
      if (options_.on_reload) options_.on_reload();
      return WaitForSignal();
    }
    Log("info", "signal received; draining", {{"signal", signo}});
    Shutdown();
  });
}

void HttpServer::Impl::Run() {
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  WaitForSignal();
  DoAccept();
  // Worker contexts other than the first have no work of their own until a
  // connection arrives: keep them running until shutdown.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  for (size_t i = 1; i < workers_.size(); ++i) {
    guards.push_back(asio::make_work_guard(*workers_[i]));
  }
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([this, i] { workers_[i]->run(); });
  }
  ioc_.run();
  // The first context stops when drained; the others follow.
  for (auto& g : guards) g.reset();
  for (size_t i = 1; i < workers_.size(); ++i) workers_[i]->stop();
  for (auto& t : threads) t.join();
  // Completions posted before this point still run (a write that committed
  // during the drain is answered, audited and logged); later ones run where
  // they are posted.
  {
    MutexLock lock(post_mu_);
    stopped_ = true;
  }
  for (auto& worker : workers_) {
    worker->restart();
    worker->poll();
  }
}

void HttpServer::Impl::Shutdown() {
  asio::post(acceptor_.get_executor(), [this] {
    if (draining_.exchange(true)) return;
    beast::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    std::vector<std::shared_ptr<Connection>> live;
    {
      MutexLock lock(mu_);
      for (auto& [ptr, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->Drain();
    drain_deadline_ =
        std::chrono::steady_clock::now() + options_.limits.drain_timeout;
    CheckDrained();
  });
}

void HttpServer::Impl::CheckDrained() {
  size_t open;
  {
    MutexLock lock(mu_);
    open = sessions_.size();
  }
  if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (open > 0) {
      Log("warn", "drain timed out; closing connections",
          {{"connections", static_cast<long long>(open)}});
    }
    ioc_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) CheckDrained();
  });
}

HttpServer::HttpServer(HttpOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Listen() { return impl_->Listen(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Shutdown() { impl_->Shutdown(); }
size_t HttpServer::connections() const {
  MutexLock lock(impl_->mu_);
  return impl_->sessions_.size();
}
uint64_t HttpServer::tls_handshake_failures() const {
  return impl_->tls_handshake_failures_.load(std::memory_order_relaxed);
}

}  // namespace siteledger::server
