#pragma once

// End-to-end test harness: a real siteledgerd process on a loopback port, a
// real HTTP client (libcurl), a loopback key server for Atlassian's install
// keys, and real signed JWTs (HS256 with the tenant's secret, RS256 with a
// test RSA key).

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "server/jwt.h"
#include "tests/common/temp_dir.h"

extern char** environ;

namespace siteledger::e2e {

using projections::Json;

inline Json ParseOrFail(const std::string& text) {
  auto j = projections::ParseJson(text, projections::TrustedJsonLimits());
  if (!j) FAIL("not JSON: " << text);
  return *j;
}

// ---------------------------------------------------------------------------
// HTTP client

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;

  Json json() const { return ParseOrFail(body); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline size_t CurlBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

inline size_t CurlHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
      value.pop_back();
    }
    (*headers)[name] = value;
  }
  return size * n;
}

inline Response Http(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers = {},
                     const std::string& body = "", long timeout_ms = 10000) {
  CURL* c = curl_easy_init();
  REQUIRE(c != nullptr);
  Response r;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &CurlHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" ||
      method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  }
  curl_slist* list = nullptr;
  // curl adds "Expect: 100-continue" for large bodies; the server answers
  // without waiting, as browsers expect.
  list = curl_slist_append(list, "Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  if (code != CURLE_OK) r.status = -static_cast<long>(code);
  return r;
}

// ---------------------------------------------------------------------------
// Keys and tokens

// A fresh RSA key pair standing in for Atlassian's install key.
class RsaKey {
 public:
  RsaKey() {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
    REQUIRE(ctx != nullptr);
    REQUIRE(EVP_PKEY_keygen_init(ctx) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) == 1);
    EVP_PKEY* key = nullptr;
    REQUIRE(EVP_PKEY_keygen(ctx, &key) == 1);
    EVP_PKEY_CTX_free(ctx);
    key_.reset(key);
  }

  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
  }

  std::string Sign(std::string_view input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr,
                               key_.get()) == 1);
    REQUIRE(EVP_DigestSign(ctx, nullptr, &len,
                           reinterpret_cast<const uint8_t*>(input.data()),
                           input.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(sig.data()), &len,
                           reinterpret_cast<const uint8_t*>(input.data()),
                           input.size()) == 1);
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
  }

 private:
  struct Free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
};

inline std::string B64(std::string_view s) {
  return server::Base64UrlEncode(s);
}

inline std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

inline int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Signs `claims` with HS256 (or any header you give).
inline std::string SignHs(const Json& claims, std::string_view secret,
                          std::string header = R"({"alg":"HS256","typ":"JWT"})") {
  const std::string input = B64(header) + "." + B64(claims.Dump());
  return input + "." + B64(HmacSha256(secret, input));
}

inline std::string SignRs(const Json& claims, const RsaKey& key,
                          const std::string& kid) {
  const std::string header =
      R"({"alg":"RS256","typ":"JWT","kid":")" + kid + "\"}";
  const std::string input = B64(header) + "." + B64(claims.Dump());
  return input + "." + B64(key.Sign(input));
}

// ---------------------------------------------------------------------------
// A loopback server answering GET /<kid> with a PEM public key.

class KeyServer {
 public:
  KeyServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~KeyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  void Put(const std::string& kid, const std::string& pem) {
    std::lock_guard lock(mu_);
    keys_[kid] = pem;
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      ++requests_;
      const size_t sp1 = req.find(' ');
      const size_t sp2 = req.find(' ', sp1 + 1);
      std::string path = sp1 == std::string::npos
                             ? ""
                             : req.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string pem;
      {
        std::lock_guard lock(mu_);
        auto it = keys_.find(path.empty() ? "" : path.substr(1));
        if (it != keys_.end()) pem = it->second;
      }
      const std::string resp =
          pem.empty() ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n"
                      : "HTTP/1.1 200 OK\r\nContent-Type: "
                        "application/x-pem-file\r\nContent-Length: " +
                            std::to_string(pem.size()) +
                            "\r\nConnection: close\r\n\r\n" + pem;
      size_t off = 0;
      while (off < resp.size()) {
        const ssize_t n = ::write(c, resp.data() + off, resp.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::map<std::string, std::string> keys_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// A siteledgerd process.

class Server {
 public:
  // Starts siteledgerd on a free loopback port with its data in `dir`.
  Server(const std::filesystem::path& dir, const std::string& keys_url,
         std::vector<std::string> extra = {})
      : dir_(dir) {
    log_ = dir / ("siteledgerd-" + std::to_string(++starts_) + ".log");
    args_ = {SITELEDGERD_PATH,
             "--listen",
             "127.0.0.1:0",
             "--data",
             (dir / "us").string(),
             "--install-keys-url",
             keys_url};
    for (auto& e : extra) args_.push_back(std::move(e));
    Start();
  }
  ~Server() { Stop(SIGKILL); }

  void Start() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, SITELEDGERD_PATH, &actions, nullptr,
                          argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    // Wait for the "serving" line, which names the port.
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::ifstream in(log_);
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("\"msg\":\"serving\"") == std::string::npos) continue;
        const size_t at = line.find("\"port\":");
        if (at != std::string::npos) port_ = std::stoi(line.substr(at + 7));
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        FAIL("siteledgerd exited at start: " << Log());
      }
    }
    REQUIRE(port_ != 0);
  }

  // Sends `signal` and waits for the process; returns its exit status.
  int Stop(int signal = SIGTERM) {
    if (pid_ == 0) return -1;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    port_ = 0;
    return status;
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string base_url() const { return url(); }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::vector<std::string> args_;
  pid_t pid_ = 0;
  int port_ = 0;
  static inline std::atomic<int> starts_{0};
};

// ---------------------------------------------------------------------------
// An installed tenant: its clientKey and secret, and tokens for requests.

struct Tenant {
  std::string client_key;
  std::string secret;

  // A token for `method path?query` (qsh of exactly that request).
  std::string Token(const std::string& method, const std::string& target,
                    const std::string& sub = "5b10ac8d82e05b22cc7d4ef5",
                    int64_t ttl = 300) const {
    const size_t q = target.find('?');
    Json claims = Json::MakeObject();
    claims.Set("iss", client_key);
    claims.Set("iat", NowSeconds());
    claims.Set("exp", NowSeconds() + ttl);
    claims.Set("qsh", server::QueryStringHash(
                          method, target.substr(0, q),
                          q == std::string::npos ? "" : target.substr(q + 1)));
    if (!sub.empty()) claims.Set("sub", sub);
    return SignHs(claims, secret);
  }
  std::string Auth(const std::string& method, const std::string& target,
                   const std::string& sub = "5b10ac8d82e05b22cc7d4ef5") const {
    return "Authorization: JWT " + Token(method, target, sub);
  }
};

// The world most tests need: a key server with one install key, a server,
// and helpers to install tenants and make signed requests.
struct World {
  testing::TempDir dir;
  KeyServer keys;
  RsaKey install_key;
  std::unique_ptr<Server> server;

  explicit World(std::vector<std::string> extra = {}) {
    keys.Put("kid-1", install_key.PublicPem());
    server = std::make_unique<Server>(dir.path(), keys.url(), std::move(extra));
  }

  // The installed callback, signed as Atlassian signs it.
  Response Lifecycle(const std::string& event, const std::string& client_key,
                     const std::string& secret,
                     const std::string& kid = "kid-1") {
    Json body = Json::MakeObject();
    body.Set("key", "siteledger");
    body.Set("clientKey", client_key);
    body.Set("sharedSecret", secret);
    body.Set("baseUrl", "https://" + client_key + ".atlassian.net/wiki");
    body.Set("productType", "confluence");
    body.Set("eventType", event);
    const std::string path = "/lifecycle/" + event;
    Json claims = Json::MakeObject();
    claims.Set("iss", client_key);
    claims.Set("aud", server->base_url());
    claims.Set("iat", NowSeconds());
    claims.Set("exp", NowSeconds() + 180);
    claims.Set("qsh", server::QueryStringHash("POST", path, ""));
    return Http("POST", server->url(path),
                {"Authorization: JWT " + SignRs(claims, install_key, kid),
                 "Content-Type: application/json"},
                body.Dump());
  }

  Tenant Install(const std::string& client_key) {
    Tenant t{client_key, "secret-of-" + client_key + "-0123456789abcdef"};
    Response r = Lifecycle("installed", t.client_key, t.secret);
    INFO(r.body);
    REQUIRE(r.status == 204);
    return t;
  }

  // A signed request to the tenant API.
  Response Call(const Tenant& t, const std::string& method,
                const std::string& target, const std::string& body = "",
                std::vector<std::string> headers = {}) {
    headers.push_back(t.Auth(method, target));
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return Http(method, server->url(target), headers, body);
  }
};

}  // namespace siteledger::e2e
