#pragma once

// End-to-end test harness: a real siteledgerd process on a loopback port, a
// real HTTP client (libcurl), a loopback key server for Atlassian's install
// keys, and real signed JWTs (HS256 with the tenant's secret, RS256 with a
// test RSA key).

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/jwt.h"
#include "tests/common/temp_dir.h"

extern char** environ;

namespace siteledger::e2e {

using projections::Json;

// Runs args[0] (looked up on PATH) and returns its exit status and its
// standard output, with its standard error too when `with_stderr` (else
// that goes to the test's own).
inline std::pair<int, std::string> RunProgram(
    const std::vector<std::string>& args, bool with_stderr = true) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (with_stderr) {
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  }
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  if (spawned == 0) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fds[0]);
  if (spawned != 0) return {-1, args[0] + ": cannot run it"};
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
          out};
}

// An npm package, pinned (`spec`, e.g. "eventsource@2.0.2"), installed into
// E2E_NODE_PREFIX plus `suffix` unless its node_modules/<module> is there.
// Returns the prefix (for NODE_PATH or node's cwd). Each test uses a prefix
// of its own, so that two never race under ctest -j.
inline std::string NpmPrefix(const std::string& suffix, const std::string& spec,
                             const std::string& module) {
  const std::filesystem::path prefix = std::string(E2E_NODE_PREFIX) + suffix;
  if (!std::filesystem::exists(prefix / "node_modules" / module /
                               "package.json")) {
    std::filesystem::create_directories(prefix);
    auto [code, out] = RunProgram({"npm", "install", "--no-audit", "--no-fund",
                                   "--prefix", prefix.string(), spec});
    INFO(out);
    REQUIRE(code == 0);
  }
  return prefix.string();
}

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

// A CA file (PEM) that https:// requests trust besides the system's, for
// servers with a test certificate; set before any request is made.
inline std::string& TestCaFile() {
  static std::string file;
  return file;
}

inline Response Http(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers = {},
                     const std::string& body = "", long timeout_ms = 10000) {
  Response r;
  // No Catch2 assertion here: tests call Http from several threads.
  CURL* c = curl_easy_init();
  if (c == nullptr) {
    r.status = -1;
    return r;
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!TestCaFile().empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, TestCaFile().c_str());
  }
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
inline std::string SignHs(
    const Json& claims, std::string_view secret,
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
    {
      std::lock_guard lock(mu_);  // so that a slow answer's wait sees it
      stop_ = true;
    }
    stop_cv_.notify_all();
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (std::thread& t : slow_) t.join();
  }

  void Put(const std::string& kid, const std::string& pem) {
    std::lock_guard lock(mu_);
    keys_[kid] = pem;
  }
  // From now on every answer (a key or 404) waits `delay`, and connections
  // are served concurrently, each on its own thread, as a real server would;
  // with no delay (the default) they are served one at a time.
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  int requests() const { return requests_; }
  // The requests for one kid.
  int requests_for(const std::string& kid) const {
    std::lock_guard lock(mu_);
    auto it = per_kid_.find(kid);
    return it == per_kid_.end() ? 0 : it->second;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      if (delay_ms_ > 0) {
        slow_.emplace_back([this, c] { Answer(c); });
      } else {
        Answer(c);
      }
    }
  }

  void Answer(int c) {
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
    std::string path =
        sp1 == std::string::npos ? "" : req.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string kid = path.empty() ? "" : path.substr(1);
    std::string pem;
    {
      std::lock_guard lock(mu_);
      ++per_kid_[kid];
      auto it = keys_.find(kid);
      if (it != keys_.end()) pem = it->second;
    }
    if (const long delay = delay_ms_; delay > 0) {
      std::unique_lock lock(mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(delay),
                        [this] { return stop_.load(); });
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

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<long> delay_ms_{0};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::map<std::string, std::string> keys_;
  std::map<std::string, int> per_kid_;
  std::vector<std::thread> slow_;  // Serve's thread only
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// A siteledgerd process.

// The binary under test: $SITELEDGERD_BIN when set (to run the suite against
// another build), else the one built with the tests.
inline const char* SiteledgerdPath() {
  const char* env = std::getenv("SITELEDGERD_BIN");
  return env != nullptr && *env != '\0' ? env : SITELEDGERD_PATH;
}

class Server {
 public:
  // Starts siteledgerd on a free loopback port with its data in `dir`.
  Server(const std::filesystem::path& dir, const std::string& keys_url,
         std::vector<std::string> extra = {})
      : dir_(dir) {
    log_ = dir / ("siteledgerd-" + std::to_string(++starts_) + ".log");
    args_ = {
        SiteledgerdPath(),     "--listen",           "127.0.0.1:0", "--data",
        (dir / "us").string(), "--install-keys-url", keys_url};
    for (auto& e : extra) {
      if (e == "--tls-cert") scheme_ = "https";
      args_.push_back(std::move(e));
    }
    Start();
  }
  ~Server() { Stop(SIGKILL); }

  void Start() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    // Its stdout too: a child must not hold the test's output open.
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, SiteledgerdPath(), &actions, nullptr,
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

  // Sends `signal` and waits at most `timeout` for the process to exit,
  // then kills it (SIGKILL). Returns the wait status and whether the
  // process exited by itself in time.
  std::pair<int, bool> StopWithin(int signal,
                                  std::chrono::milliseconds timeout) {
    if (pid_ == 0) return {-1, false};
    ::kill(pid_, signal);
    const auto until = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    bool in_time = false;
    for (;;) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        in_time = true;
        break;
      }
      if (done < 0) break;
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = 0;
    port_ = 0;
    return {status, in_time};
  }

  // Whether the process has exited (and reaps it): for crash tests.
  bool Exited() {
    if (pid_ == 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = 0;
    port_ = 0;
    return true;
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string url(const std::string& path = "") const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string base_url() const { return url(); }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::vector<std::string> args_;
  std::string scheme_ = "http";
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
  // `issued_ahead`: seconds the token is issued after now (for a server
  // whose test clock runs ahead).
  std::string Token(const std::string& method, const std::string& target,
                    const std::string& sub = "5b10ac8d82e05b22cc7d4ef5",
                    int64_t ttl = 300, int64_t issued_ahead = 0) const {
    const size_t q = target.find('?');
    Json claims = Json::MakeObject();
    claims.Set("iss", client_key);
    claims.Set("iat", NowSeconds() + issued_ahead);
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
  // A token like those the administration page is given (context-qsh,
  // marked siteledgerPage: admin, 15 minutes): the only kind that may start
  // a migration or a rollback.
  std::string PageToken(int64_t issued_ahead = 0,
                        const std::string& sub = "5b10ac8d82e05b22cc7d4ef5",
                        bool marked = true) const {
    Json claims = Json::MakeObject();
    claims.Set("iss", client_key);
    claims.Set("sub", sub);
    claims.Set("qsh", "context-qsh");
    claims.Set("iat", NowSeconds() + issued_ahead);
    claims.Set("exp", NowSeconds() + issued_ahead + 900);
    if (marked) claims.Set("siteledgerPage", "admin");
    return SignHs(claims, secret);
  }
  std::string PageAuth(int64_t issued_ahead = 0) const {
    return "Authorization: JWT " + PageToken(issued_ahead);
  }
};

// The world most tests need: a key server with one install key, a server,
// and helpers to install tenants and make signed requests.
// A lifecycle callback's body, as Atlassian sends it.
inline Json LifecycleBody(const std::string& event,
                          const std::string& client_key,
                          const std::string& secret) {
  Json body = Json::MakeObject();
  body.Set("key", "siteledger");
  body.Set("clientKey", client_key);
  body.Set("sharedSecret", secret);
  body.Set("baseUrl", "https://" + client_key + ".atlassian.net/wiki");
  body.Set("productType", "confluence");
  body.Set("eventType", event);
  return body;
}

// The claims of Atlassian's signed lifecycle token for `path`.
inline Json LifecycleClaims(const std::string& base_url,
                            const std::string& client_key,
                            const std::string& path) {
  Json claims = Json::MakeObject();
  claims.Set("iss", client_key);
  claims.Set("aud", base_url);
  claims.Set("iat", NowSeconds());
  claims.Set("exp", NowSeconds() + 180);
  claims.Set("qsh", server::QueryStringHash("POST", path, ""));
  return claims;
}

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
    const std::string path = "/lifecycle/" + event;
    return Http(
        "POST", server->url(path),
        {"Authorization: JWT " +
             SignRs(LifecycleClaims(server->base_url(), client_key, path),
                    install_key, kid),
         "Content-Type: application/json"},
        LifecycleBody(event, client_key, secret).Dump());
  }

  Tenant Install(const std::string& client_key) {
    Tenant t{client_key, "secret-of-" + client_key + "-0123456789abcdef"};
    Response r = Lifecycle("installed", t.client_key, t.secret);
    INFO(r.body << "\nsiteledgerd's log:\n" << server->Log());
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

// ---------------------------------------------------------------------------
// Helpers shared by the e2e tests.

// Whether `r` is an RFC 9457 problem answer with HTTP status `status`.
inline bool IsProblem(const Response& r, long status) {
  if (r.status != status) return false;
  if (r.header("content-type").rfind("application/problem+json", 0) != 0) {
    return false;
  }
  auto j = projections::ParseJson(r.body, projections::TrustedJsonLimits());
  return j && j->is_object() && j->GetInt("status") == status &&
         !j->GetString("title").empty() && j->Find("detail") != nullptr;
}

// The problem's detail text (empty if the body is not a problem).
inline std::string DetailOf(const Response& r) {
  auto j = projections::ParseJson(r.body, projections::TrustedJsonLimits());
  return j && j->is_object() ? std::string(j->GetString("detail"))
                             : std::string();
}

// The ids of the items of a list answer ({"items":[...],"nextCursor":...}).
inline std::vector<std::string> IdsOf(const Json& list,
                                      std::string_view field = "id") {
  std::vector<std::string> ids;
  const Json* items = list.Find("items");
  if (items == nullptr || !items->is_array()) return ids;
  for (const Json& item : items->as_array()) {
    ids.emplace_back(item.GetString(field));
  }
  return ids;
}

// The claims of a tenant token for `method target`, to alter before
// signing.
inline Json TokenClaims(const Tenant& t, const std::string& method,
                        const std::string& target,
                        const std::string& sub = "5b10ac8d82e05b22cc7d4ef5",
                        int64_t exp_offset = 300) {
  const size_t q = target.find('?');
  Json claims = Json::MakeObject();
  claims.Set("iss", t.client_key);
  claims.Set("iat", NowSeconds());
  claims.Set("exp", NowSeconds() + exp_offset);
  claims.Set("qsh", server::QueryStringHash(
                        method, target.substr(0, q),
                        q == std::string::npos ? "" : target.substr(q + 1)));
  if (!sub.empty()) claims.Set("sub", sub);
  return claims;
}

// Every event of the tenant after `after`, paging through GET /api/v1/events.
inline std::vector<Json> EventsAfter(World& w, const Tenant& t,
                                     uint64_t after = 0) {
  std::vector<Json> out;
  for (;;) {
    const std::string target =
        "/api/v1/events?after=" + std::to_string(after) + "&limit=1000";
    Response r = w.Call(t, "GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    const auto& items = page.Find("items")->as_array();
    for (const Json& e : items) {
      after = static_cast<uint64_t>(e.GetInt("seq"));
      out.push_back(e);
    }
    if (items.size() < 1000) return out;
  }
}

// The events after `after` that a request of a user changed something with:
// everything but user.seen (which any authenticated request of a user not
// seen yet today appends).
inline std::vector<Json> ChangesAfter(World& w, const Tenant& t,
                                      uint64_t after) {
  std::vector<Json> out;
  for (Json& e : EventsAfter(w, t, after)) {
    if (e.GetString("type") != "user.seen") out.push_back(std::move(e));
  }
  return out;
}

// The seq of the tenant's last event (0 for none).
inline uint64_t LastSeq(World& w, const Tenant& t) {
  auto events = EventsAfter(w, t, 0);
  return events.empty() ? 0
                        : static_cast<uint64_t>(events.back().GetInt("seq"));
}

// Waits until `done()` holds (polling), at most `timeout`.
template <typename F>
bool Eventually(F done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// ---------------------------------------------------------------------------
// A Server-Sent Events client: a libcurl transfer on its own thread that
// collects what arrives until Stop().

struct SseFrame {
  std::string id;
  std::string event;
  std::string data;
};

// The frames of an event stream that carry an id (comments and the retry
// hint are left out). A frame still arriving (no blank line yet) is not
// included.
inline std::vector<SseFrame> ParseFrames(const std::string& text) {
  std::vector<SseFrame> frames;
  size_t at = 0;
  for (;;) {
    const size_t end = text.find("\n\n", at);
    if (end == std::string::npos) break;
    std::string block = text.substr(at, end - at);
    at = end + 2;
    SseFrame f;
    std::istringstream lines(block);
    std::string line;
    bool has_id = false;
    while (std::getline(lines, line)) {
      if (line.rfind("id: ", 0) == 0) {
        f.id = line.substr(4);
        has_id = true;
      } else if (line.rfind("event: ", 0) == 0) {
        f.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        if (!f.data.empty()) f.data += "\n";
        f.data += line.substr(6);
      }
    }
    if (has_id) frames.push_back(std::move(f));
  }
  return frames;
}

class SseClient {
 public:
  SseClient(const std::string& url, std::vector<std::string> headers)
      : url_(url), headers_(std::move(headers)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SseClient() { Stop(); }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // Waits until the text received so far satisfies `pred`, or the transfer
  // ends, or `timeout` passes. Returns whether `pred` holds.
  template <typename P>
  bool WaitFor(P pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return pred(text_) || ended_; });
    return pred(text_);
  }
  bool WaitForFrames(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return WaitFor(
        [n](const std::string& t) { return ParseFrames(t).size() >= n; },
        timeout);
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }
  std::vector<SseFrame> frames() const { return ParseFrames(text()); }
  bool ended() const {
    std::lock_guard lock(mu_);
    return ended_;
  }
  long status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string header(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = response_headers_.find(name);
    return it == response_headers_.end() ? std::string() : it->second;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    {
      std::lock_guard lock(self->mu_);
      self->text_.append(data, size * n);
    }
    self->cv_.notify_all();
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<SseClient*>(user);
    std::lock_guard lock(self->mu_);
    return CurlHeader(data, size, n, &self->response_headers_);
  }

  void Run() {
    CURL* c = curl_easy_init();
    CURLM* m = curl_multi_init();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &SseClient::OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &SseClient::OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_slist* list = nullptr;
    for (const auto& h : headers_) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_multi_add_handle(m, c);
    int running = 1;
    while (running > 0 && !stop_) {
      curl_multi_perform(m, &running);
      if (running > 0) curl_multi_poll(m, nullptr, 0, 20, nullptr);
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(m, c);
    curl_easy_cleanup(c);
    curl_multi_cleanup(m);
    curl_slist_free_all(list);
    {
      std::lock_guard lock(mu_);
      status_ = status;
      ended_ = true;
    }
    cv_.notify_all();
  }

  std::string url_;
  std::vector<std::string> headers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  std::map<std::string, std::string> response_headers_;
  long status_ = 0;
  bool ended_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// A raw TCP connection to the server, for requests libcurl will not send the
// way a test needs (slow uploads, a body that never comes).

class RawConnection {
 public:
  explicit RawConnection(const std::string& base_url) {
    const size_t colon = base_url.rfind(':');
    const int port = std::stoi(base_url.substr(colon + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
            0);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of `data`; false if the connection failed.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Raw bytes until `marker` was seen `count` times, the server closed, or
  // the read timed out (10 s).
  std::string ReadUntil(std::string_view marker, size_t count) {
    std::string in;
    char buf[16384];
    auto seen = [&] {
      size_t n = 0;
      for (size_t at = in.find(marker); at != std::string::npos;
           at = in.find(marker, at + 1)) {
        ++n;
      }
      return n;
    };
    while (seen() < count) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    return in;
  }

  // Reads one response (Content-Length framed, or until the server closes).
  Response Read() {
    Response r;
    std::string in;
    char buf[16384];
    size_t header_end = std::string::npos;
    size_t want = std::string::npos;
    for (;;) {
      if (header_end == std::string::npos) {
        header_end = in.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::istringstream head(in.substr(0, header_end));
          std::string line;
          std::getline(head, line);
          if (line.size() > 12) r.status = std::stol(line.substr(9, 3));
          while (std::getline(head, line)) {
            CurlHeader(line.data(), 1, line.size(), &r.headers);
          }
          if (!r.header("content-length").empty()) {
            want = header_end + 4 + std::stoul(r.header("content-length"));
          }
        }
      }
      if (want != std::string::npos && in.size() >= want) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    if (header_end != std::string::npos) {
      r.body = in.substr(header_end + 4, want == std::string::npos
                                             ? std::string::npos
                                             : want - header_end - 4);
    }
    return r;
  }

 private:
  int fd_ = -1;
};

// The lowercase hex SHA-256 of `data` (OpenSSL's, not the server's).
inline std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Child processes run to completion: the siteledger tool, or a siteledgerd
// expected to refuse its flags.

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or not done in time
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv[0] with `argv` and our environment, less SITELEDGER_TOKEN, plus
// `env` (NAME=VALUE entries); waits at most `timeout` (then kills it).
inline ProcessResult RunProcess(
    std::vector<std::string> argv, const std::vector<std::string>& env = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  ProcessResult result;
  testing::TempDir io;
  const std::string out_path = (io / "stdout").string();
  const std::string err_path = (io / "stderr").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto name_of = [](std::string_view entry) {
    return entry.substr(0, entry.find('='));
  };
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = name_of(entry) == "SITELEDGER_TOKEN";
    for (const auto& extra : env) {
      if (name_of(extra) == name_of(entry)) replaced = true;
    }
    if (!replaced) environment.emplace_back(entry);
  }
  for (const auto& extra : env) environment.push_back(extra);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr,
                                    args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    result.err = "cannot start " + argv[0];
    return result;
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 || std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// The siteledger tool: $SITELEDGER_TOOL_BIN when set, else the one built
// with the tests.
inline const char* SiteledgerToolPath() {
  const char* env = std::getenv("SITELEDGER_TOOL_BIN");
  return env != nullptr && *env != '\0' ? env : SITELEDGER_TOOL_PATH;
}

inline ProcessResult RunTool(std::vector<std::string> args,
                             const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), SiteledgerToolPath());
  return RunProcess(std::move(args), env);
}

// ---------------------------------------------------------------------------
// Data files, and RocksDB's own ldb (Debian's rocksdb-tools).

// Every file under `root`, but the servers' own stderr logs.
inline std::vector<std::filesystem::path> DataFiles(
    const std::filesystem::path& root) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.starts_with("siteledgerd-") && name.ends_with(".log")) continue;
    out.push_back(e.path());
  }
  return out;
}

// The files under `root` that hold `needle`.
inline std::vector<std::string> FilesHolding(const std::filesystem::path& root,
                                             std::string_view needle) {
  std::vector<std::string> out;
  for (const auto& f : DataFiles(root)) {
    if (ReadFile(f).find(needle) != std::string::npos) {
      out.push_back(f.string());
    }
  }
  return out;
}

// The 8-byte big-endian key prefix of tenant `id`, as ldb's --hex prints it.
inline std::string PrefixHex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX",
                static_cast<unsigned long long>(id));
  return buf;
}

// The keys (hex, upper case, no 0x) of a column family, read by RocksDB's own
// ldb: plainly from a stopped database, or as a secondary of a live one.
inline std::vector<std::string> LdbKeys(
    const std::filesystem::path& db, const std::string& family,
    const std::filesystem::path* secondary,
    std::vector<std::string>* values = nullptr) {
  std::vector<std::string> argv = {"/usr/bin/ldb", "--db=" + db.string(),
                                   "--column_family=" + family, "--hex"};
  if (secondary != nullptr) {
    argv.push_back("--secondary_path=" + secondary->string());
  }
  argv.push_back("scan");
  ProcessResult r = RunProcess(argv, {}, std::chrono::seconds(120));
  INFO("ldb " << db << " " << family << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> keys;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("0x")) continue;
    const size_t sep = line.find(" : ");
    if (sep == std::string::npos) continue;
    keys.push_back(line.substr(2, sep - 2));
    if (values != nullptr) {
      std::string v = line.substr(sep + 3);
      if (v.starts_with("0x")) v = v.substr(2);
      values->push_back(v);
    }
  }
  return keys;
}

// The bytes of lowercase or upper-case hex digits.
inline std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Operators.

// An operators file in a folder of its own, made before the World whose
// server reads it, filled with `siteledger operators add`.
struct OperatorsFile {
  testing::TempDir dir;

  std::filesystem::path path() const { return dir / "operators"; }

  // The server flags naming this file.
  std::vector<std::string> Flags() const {
    return {"--operators-file", path().string()};
  }

  // Adds an operator with the tool; returns the token it printed.
  std::string Add(const std::string& name, const std::string& scopes) {
    ProcessResult r = RunTool({"operators", "add", "--file", path().string(),
                               "--name", name, "--scopes", scopes});
    INFO("siteledger operators add " << name << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    std::string token = r.out;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
      token.pop_back();
    }
    REQUIRE(!token.empty());
    return token;
  }
};

// A request to an /admin route with an operator token, and the reason when
// one is given.
inline Response Admin(World& w, const std::string& token,
                      const std::string& method, const std::string& target,
                      const std::string& reason = "",
                      const std::string& body = "",
                      std::vector<std::string> headers = {}) {
  headers.push_back("Authorization: Bearer " + token);
  if (!reason.empty()) headers.push_back("X-Access-Reason: " + reason);
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  return Http(method, w.server->url(target), headers, body);
}

// A signed tenant request whose token is still in date on a server whose
// clock runs `ahead` of ours (after POST /admin/clock).
inline Response CallAhead(World& w, const Tenant& t, std::chrono::seconds ahead,
                          const std::string& method, const std::string& target,
                          const std::string& body = "",
                          std::vector<std::string> headers = {}) {
  headers.push_back("Authorization: JWT " +
                    t.Token(method, target, "5b10ac8d82e05b22cc7d4ef5",
                            ahead.count() + 300, ahead.count()));
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  return Http(method, w.server->url(target), headers, body);
}

// Counts the lines of the server's log that contain `text`.
inline int LogLinesWith(const Server& server, const std::string& text) {
  std::istringstream log(server.Log());
  std::string line;
  int n = 0;
  while (std::getline(log, line)) {
    if (line.find(text) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace siteledger::e2e
