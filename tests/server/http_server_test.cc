#include "server/http_server.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "server/http_client.h"
#include "tests/common/temp_dir.h"

namespace siteledger::server {
namespace {

namespace fs = std::filesystem;

// A self-signed certificate for 127.0.0.1 (its own CA) and its key, made
// with the openssl command, as `<name>.crt` and `<name>.key` in `dir`.
void MakeCertificate(const fs::path& dir, const std::string& name) {
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
      " -keyout '" +
      (dir / (name + ".key")).string() + "' -out '" +
      (dir / (name + ".crt")).string() + "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
}

// Whether `done` holds within a second; for what the server does just
// after the client has its answer.
template <class Predicate>
bool Eventually(Predicate done) {
  for (int i = 0; i < 100 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

HttpOptions TlsOptions(const fs::path& cert, const fs::path& key) {
  HttpOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  return options;
}

// An HttpServer answering "hello over <method>: <body>" (or a short event
// stream at /stream), run on its own thread until the object goes.
class RunningServer {
 public:
  explicit RunningServer(HttpOptions options)
      : server_(std::move(options),
                [this](HttpRequest request, Responder respond) {
                  Handle(std::move(request), std::move(respond));
                }) {
    Status listened = server_.Listen();
    REQUIRE(listened.ok());
    thread_ = std::thread([this] { server_.Run(); });
  }
  ~RunningServer() {
    server_.Shutdown();
    thread_.join();
    if (closer_.joinable()) closer_.join();
  }

  HttpServer& server() { return server_; }
  std::string url(std::string_view scheme, std::string_view path = "/") const {
    return std::string(scheme) +
           "://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }

 private:
  void Handle(HttpRequest request, Responder respond) {
    if (request.target != "/stream") {
      HttpResponse response;
      response.body = "hello over " + request.method + ": " + request.body;
      return respond(std::move(response));
    }
    auto writer = respond.Stream(
        HttpResponse().Set("Content-Type", "text/event-stream"), [] {});
    writer->Write("data: one\n\n");
    writer->Write("data: two\n\n");
    // Close() drops frames not yet started: close once they are out (on
    // loopback, microseconds after they are queued).
    closer_ = std::thread([writer] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      writer->Close();
    });
  }

  HttpServer server_;
  std::thread thread_;
  std::thread closer_;  // at most one /stream per server
};

TEST_CASE("A server with a certificate answers HTTPS to a client trusting it",
          "[http_server][tls]") {
  InitHttpClient();
  testing::TempDir dir;
  MakeCertificate(dir.path(), "server");
  RunningServer running(TlsOptions(dir / "server.crt", dir / "server.key"));

  OutboundRequest request;
  request.method = "POST";
  request.url = running.url("https");
  request.body = "a body";
  request.ca_file = (dir / "server.crt").string();
  auto response = Fetch(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body == "hello over POST: a body");

  SECTION("and streams a body that ends with the connection") {
    request.method = "GET";
    request.body.clear();
    request.url = running.url("https", "/stream");
    auto streamed = Fetch(request);
    REQUIRE(streamed.has_value());
    CHECK(streamed->status == 200);
    CHECK(streamed->body == "data: one\n\ndata: two\n\n");
  }
  CHECK(running.server().tls_handshake_failures() == 0);
}

TEST_CASE("A client without the server's CA refuses its certificate",
          "[http_server][tls]") {
  InitHttpClient();
  testing::TempDir dir;
  MakeCertificate(dir.path(), "server");
  MakeCertificate(dir.path(), "other");
  RunningServer running(TlsOptions(dir / "server.crt", dir / "server.key"));

  OutboundRequest request;
  request.url = running.url("https");
  SECTION("the system's CAs only") {}
  SECTION("another CA") { request.ca_file = (dir / "other.crt").string(); }
  auto response = Fetch(request);
  REQUIRE_FALSE(response.has_value());
  CHECK(response.error().code() == StatusCode::kUnavailable);
  CHECK_THAT(response.error().message(),
             Catch::Matchers::Contains("certificate"));
  // The server reads the client's alert after the client has given up.
  CHECK(Eventually(
      [&] { return running.server().tls_handshake_failures() == 1; }));
}

TEST_CASE("Plain HTTP to the TLS port gets no answer and counts a failure",
          "[http_server][tls]") {
  InitHttpClient();
  testing::TempDir dir;
  MakeCertificate(dir.path(), "server");
  RunningServer running(TlsOptions(dir / "server.crt", dir / "server.key"));

  OutboundRequest request;
  request.url = running.url("http");
  auto response = Fetch(request);
  CHECK_FALSE((response.has_value() && response->status == 200));
  CHECK(running.server().tls_handshake_failures() == 1);
  // The connection is closed, not kept: its session goes (just after the
  // client sees the close).
  CHECK(Eventually([&] { return running.server().connections() == 0; }));
}

TEST_CASE("Listen fails, naming the file, on a bad certificate or key",
          "[http_server][tls]") {
  testing::TempDir dir;
  MakeCertificate(dir.path(), "server");
  MakeCertificate(dir.path(), "other");
  const fs::path cert = dir / "server.crt";
  const fs::path key = dir / "server.key";
  fs::path bad_cert = cert;
  fs::path bad_key = key;
  std::string named;
  std::string also;

  SECTION("a missing key file") {
    bad_key = dir / "missing.key";
    named = bad_key.string();
    also = "cannot be read";
  }
  SECTION("a key that is not the certificate's") {
    bad_key = dir / "other.key";
    named = bad_key.string();
    also = "does not match";
  }
  SECTION("a certificate file that holds no certificate") {
    bad_cert = dir / "garbage.crt";
    std::ofstream(bad_cert) << "not a certificate\n";
    named = bad_cert.string();
    also = "no usable PEM certificate";
  }
  SECTION("a certificate file where the key should be") {
    bad_key = cert;
    named = cert.string();
    also = "no usable PEM private key";
  }

  HttpServer server(TlsOptions(bad_cert, bad_key),
                    [](HttpRequest, Responder) {});
  Status listened = server.Listen();
  CHECK(listened.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(listened.message(), Catch::Matchers::Contains(named));
  CHECK_THAT(listened.message(), Catch::Matchers::Contains(also));
}

TEST_CASE("Listen fails when only one of certificate and key is given",
          "[http_server][tls]") {
  HttpServer server(TlsOptions("cert.pem", ""), [](HttpRequest, Responder) {});
  Status listened = server.Listen();
  CHECK(listened.code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace siteledger::server
