#include "tools/dev.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "projections/json.h"
#include "server/http_client.h"
#include "server/jwt.h"

namespace siteledger::tools {
namespace {

using projections::Json;

// An Atlassian account id for the development user (the tokens' sub): the
// actor of every change made with the printed token.
constexpr char kDevAccount[] = "557058:0f5e4d3c-2b1a-4098-8776-655443322110";
constexpr char kDefaultOut[] = "siteledger-dev-tenant.json";
constexpr char kDefaultKeysListen[] = "127.0.0.1:8788";
constexpr int64_t kDefaultTtl = 3600;
// How long the key server waits for the server to fetch the key, and how
// much of a request it reads.
constexpr auto kInstallTimeout = std::chrono::seconds(15);
constexpr size_t kMaxKeyRequest = 8192;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(bytes)) != 1) {
    raw = std::to_string(NowSeconds());
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<int64_t> ParseTtl(const Flags& f, std::string& error) {
  const std::string text = f.Get("ttl", std::to_string(kDefaultTtl));
  int64_t ttl = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ttl);
  if (ec != std::errc() || end != text.data() + text.size() || ttl < 60 ||
      ttl > 86400) {
    error =
        "--ttl: expected whole seconds from 60 to 86400, got '" + text + "'";
    return std::nullopt;
  }
  return ttl;
}

// A context-qsh token for every /api/v1/ request of the tenant, as Connect's
// AP.context.getToken() gives a page's script: iss the clientKey, sub the
// account, HS256 with the sharedSecret.
std::string ContextToken(const std::string& client_key,
                         const std::string& secret, const std::string& account,
                         int64_t ttl) {
  Json claims = Json::MakeObject();
  claims.Set("iss", client_key);
  claims.Set("sub", account);
  claims.Set("iat", NowSeconds());
  claims.Set("exp", NowSeconds() + ttl);
  claims.Set("qsh", "context-qsh");
  return server::SignHs256(claims, secret);
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()),
                                                &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// RS256 over header.claims, as Atlassian signs its lifecycle callbacks.
std::optional<std::string> SignRs256(const Json& claims, EVP_PKEY* key,
                                     const std::string& kid) {
  Json header = Json::MakeObject();
  header.Set("alg", "RS256");
  header.Set("typ", "JWT");
  header.Set("kid", kid);
  const std::string input = server::Base64UrlEncode(header.Dump()) + "." +
                            server::Base64UrlEncode(claims.Dump());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return std::nullopt;
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return std::nullopt;
  }
  sig.resize(len);
  return input + "." + server::Base64UrlEncode(sig);
}

// Serves one public key, by its kid, on a loopback address, until
// destroyed: what Atlassian's install-key CDN does for a real install.
class KeyServer {
 public:
  // Empty error() when listening.
  KeyServer(const std::string& listen, std::string kid, std::string pem)
      : kid_(std::move(kid)), pem_(std::move(pem)) {
    const size_t colon = listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos) {
      auto [end, ec] = std::from_chars(listen.data() + colon + 1,
                                       listen.data() + listen.size(), port);
      if (ec != std::errc() || end != listen.data() + listen.size()) port = -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (colon == std::string::npos || port < 1 || port > 65535 ||
        ::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) !=
            1) {
      error_ = "--keys-listen: expected IPV4:PORT, got '" + listen + "'";
      return;
    }
    addr.sin_port = htons(static_cast<uint16_t>(port));
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd_ < 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      error_ = "cannot listen on " + listen +
               " for the install key: " + std::strerror(errno) +
               " (another `siteledger dev tenant`?)";
      return;
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~KeyServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& error() const { return error_; }
  int fetches() const { return fetches_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos &&
             request.size() < kMaxKeyRequest) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      // "GET /<kid> HTTP/1.1" (or //<kid> from a URL ending in '/').
      std::string path;
      if (request.starts_with("GET ")) {
        path = request.substr(4, request.find(' ', 4) - 4);
      }
      while (path.starts_with("/")) path.erase(0, 1);
      std::string answer;
      if (path == kid_) {
        ++fetches_;
        answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\n"
            "Content-Length: " +
            std::to_string(pem_.size()) + "\r\nConnection: close\r\n\r\n" +
            pem_;
      } else {
        answer =
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: "
            "close\r\n\r\n";
      }
      (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::string kid_;
  std::string pem_;
  std::string error_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> fetches_{0};
  std::thread thread_;
};

std::string Trimmed(std::string url) {
  while (url.ends_with("/")) url.pop_back();
  return url;
}

// The server's base URL (the `aud` of its lifecycle tokens), from its
// OpenAPI document's servers.
std::optional<std::string> BaseUrlOf(const std::string& server,
                                     std::string& error) {
  server::OutboundRequest req;
  req.url = server + "/openapi.json";
  req.max_response_bytes = 8 << 20;
  auto got = server::Fetch(req);
  if (!got) {
    error = "cannot reach " + server + ": " + got.error().message();
    return std::nullopt;
  }
  auto doc =
      projections::ParseJson(got->body, projections::TrustedJsonLimits());
  const Json* servers =
      doc && doc->is_object() ? doc->Find("servers") : nullptr;
  if (got->status != 200 || servers == nullptr || !servers->is_array() ||
      servers->as_array().empty()) {
    error = server +
            "/openapi.json did not answer a document with servers "
            "(HTTP " +
            std::to_string(got->status) + "): is it a siteledgerd?";
    return std::nullopt;
  }
  return Trimmed(std::string(servers->as_array()[0].GetString("url")));
}

bool WriteCredentials(const std::string& path, const Json& credentials,
                      std::string& error) {
  const mode_t old = ::umask(077);
  std::ofstream out(path, std::ios::trunc);
  out << credentials.Dump() << "\n";
  out.close();
  ::umask(old);
  ::chmod(path.c_str(), 0600);
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

void PrintTry(const std::string& server, const std::string& token,
              int64_t ttl) {
  std::printf(
      "A token for every /api/v1/ request of this tenant (context-qsh, "
      "valid %lld min; `siteledger dev token` makes a new one):\n\n"
      "  export SITELEDGER_JWT='%s'\n\n"
      "Try:\n\n"
      "  curl -s -H \"Authorization: JWT $SITELEDGER_JWT\" \\\n"
      "       -H 'Content-Type: application/json' \\\n"
      "       -d '{\"name\":\"My first site\"}' %s/api/v1/sites\n"
      "  curl -s -H \"Authorization: JWT $SITELEDGER_JWT\" %s/api/v1/sites\n",
      static_cast<long long>(ttl / 60), token.c_str(), server.c_str(),
      server.c_str());
}

}  // namespace

const char kDevTenantHelp[] =
    R"(For development only. Installs a tenant on a siteledgerd as Atlassian would,
without Atlassian: serves a fresh RSA install key on --keys-listen, sends the
signed lifecycle callback (RS256, kid, aud = the server's base URL, qsh),
writes the tenant's clientKey and sharedSecret to --out (mode 0600), and
prints a token and ready curl commands. The server must trust the key
server: start it with `--install-keys-url http://127.0.0.1:8788` (the
default --keys-listen). Never point a production server at it.

  --server URL          the siteledgerd (default http://127.0.0.1:8080)
  --client-key KEY      the tenant's clientKey (default dev-<random>)
  --keys-listen IP:PORT where to serve the install key (default
                        127.0.0.1:8788)
  --out PATH            the credentials file (default
                        ./siteledger-dev-tenant.json)
  --ttl SECONDS         the printed token's lifetime (60 to 86400, default
                        3600)

Exit status: 0 installed; 1 the server refused or could not be reached, or
the port is taken; 2 a bad command line.
)";

const char kDevTokenHelp[] =
    R"TXT(For development only. Prints a new context-qsh token (HS256, sub a
development account) for the tenant whose credentials `siteledger dev tenant`
wrote, good for every /api/v1/ request until it expires:

  curl -H "Authorization: JWT $(siteledger dev token)" http://127.0.0.1:8080/api/v1/sites

  --file PATH    the credentials file (default ./siteledger-dev-tenant.json)
  --ttl SECONDS  the token's lifetime (60 to 86400, default 3600)

Exit status: 0 printed; 2 a bad command line or credentials file.
)TXT";

int DevTenant(const Invocation& in) {
  const Flags& f = in.flags;
  std::string error;
  const auto ttl = ParseTtl(f, error);
  if (!ttl) {
    std::fprintf(stderr, "siteledger dev tenant: %s\n", error.c_str());
    return kUsageError;
  }
  const std::string server = Trimmed(f.Get("server", "http://127.0.0.1:8080"));
  const std::string client_key = f.Get("client-key", "dev-" + RandomHex(4));
  const std::string out = f.Get("out", kDefaultOut);
  server::InitHttpClient();

  PkeyPtr key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  if (!key) {
    std::fprintf(stderr, "siteledger dev tenant: cannot make an RSA key\n");
    return kServerError;
  }
  const std::string kid = "siteledger-dev-" + RandomHex(8);
  KeyServer keys(f.Get("keys-listen", kDefaultKeysListen), kid,
                 PublicPem(key.get()));
  if (!keys.error().empty()) {
    std::fprintf(stderr, "siteledger dev tenant: %s\n", keys.error().c_str());
    return keys.error().starts_with("--") ? kUsageError : kServerError;
  }
  const auto base_url = BaseUrlOf(server, error);
  if (!base_url) {
    std::fprintf(stderr, "siteledger dev tenant: %s\n", error.c_str());
    return kServerError;
  }
  const std::string secret = RandomHex(32);
  Json body = Json::MakeObject();
  body.Set("key", "siteledger");
  body.Set("clientKey", client_key);
  body.Set("sharedSecret", secret);
  body.Set("baseUrl", "https://" + client_key + ".atlassian.net/wiki");
  body.Set("productType", "confluence");
  body.Set("description", "a development tenant (siteledger dev tenant)");
  body.Set("eventType", "installed");
  const std::string path = "/lifecycle/installed";
  const size_t scheme = base_url->find("://");
  const size_t slash = base_url->find('/', scheme + 3);
  const std::string base_path =
      slash == std::string::npos ? std::string() : base_url->substr(slash);
  Json claims = Json::MakeObject();
  claims.Set("iss", client_key);
  claims.Set("aud", *base_url);
  claims.Set("iat", NowSeconds());
  claims.Set("exp", NowSeconds() + 180);
  claims.Set("qsh",
             server::QueryStringHash("POST", base_path + path, "", base_path));
  const auto token = SignRs256(claims, key.get(), kid);
  if (!token) {
    std::fprintf(stderr, "siteledger dev tenant: cannot sign the callback\n");
    return kServerError;
  }
  server::OutboundRequest req;
  req.method = "POST";
  req.url = server + path;
  req.headers = {{"Authorization", "JWT " + *token},
                 {"Content-Type", "application/json"}};
  req.body = body.Dump();
  req.timeout = kInstallTimeout;
  auto answer = server::Fetch(req);
  if (!answer) {
    std::fprintf(stderr, "siteledger dev tenant: cannot reach %s: %s\n",
                 server.c_str(), answer.error().message().c_str());
    return kServerError;
  }
  if (answer->status != 204 && answer->status != 200) {
    std::fprintf(stderr,
                 "siteledger dev tenant: the server refused the install "
                 "(HTTP %ld): %s\n",
                 answer->status, answer->body.c_str());
    if (keys.fetches() == 0) {
      std::fprintf(stderr,
                   "It never fetched the install key: start siteledgerd with "
                   "--install-keys-url http://%s\n",
                   f.Get("keys-listen", kDefaultKeysListen).c_str());
    }
    return kServerError;
  }
  Json credentials = Json::MakeObject();
  credentials.Set("server", server);
  credentials.Set("clientKey", client_key);
  credentials.Set("sharedSecret", secret);
  credentials.Set("account", kDevAccount);
  if (!WriteCredentials(out, credentials, error)) {
    std::fprintf(stderr, "siteledger dev tenant: %s\n", error.c_str());
    return kServerError;
  }
  std::printf("Installed tenant %s on %s; its credentials are in %s.\n\n",
              client_key.c_str(), server.c_str(), out.c_str());
  PrintTry(server, ContextToken(client_key, secret, kDevAccount, *ttl), *ttl);
  return kOk;
}

int DevToken(const Invocation& in) {
  const Flags& f = in.flags;
  std::string error;
  const auto ttl = ParseTtl(f, error);
  if (!ttl) {
    std::fprintf(stderr, "siteledger dev token: %s\n", error.c_str());
    return kUsageError;
  }
  const std::string file = f.Get("file", kDefaultOut);
  std::ifstream inp(file);
  std::stringstream text;
  text << inp.rdbuf();
  auto credentials =
      projections::ParseJson(text.str(), projections::TrustedJsonLimits());
  if (!inp || !credentials || !credentials->is_object() ||
      credentials->GetString("clientKey").empty() ||
      credentials->GetString("sharedSecret").empty()) {
    std::fprintf(stderr,
                 "siteledger dev token: %s is not a credentials file of "
                 "`siteledger dev tenant`\n",
                 file.c_str());
    return kUsageError;
  }
  std::string account(credentials->GetString("account"));
  if (account.empty()) account = kDevAccount;
  std::printf("%s\n",
              ContextToken(std::string(credentials->GetString("clientKey")),
                           std::string(credentials->GetString("sharedSecret")),
                           account, *ttl)
                  .c_str());
  return kOk;
}

}  // namespace siteledger::tools
