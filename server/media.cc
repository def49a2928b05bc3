// Media: uploads (raw or multipart), downloads with byte ranges, signed URLs
// that work without a token, and deletion.

#include "projections/media.h"

#include <charconv>

#include "projections/commands.h"
#include "server/internal/media_api.h"
#include "server/internal/request_parts.h"
#include "server/internal/residency.h"
#include "server/internal/tenant_api.h"
#include "server/jwt.h"
#include "server/problem.h"
#include "storage/base/rfc3339.h"
#include "storage/blob_keys.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

using projections::Json;

using projections::MediaInfo;
using projections::MediaType;

bool ValidMediaId(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct UploadedFile {
  std::string_view bytes;
  std::string declared_type;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The boundary parameter of a multipart Content-Type.
std::string Boundary(std::string_view content_type) {
  const size_t at = content_type.find("boundary=");
  if (at == std::string_view::npos) return {};
  std::string_view b = content_type.substr(at + 9);
  b = b.substr(0, b.find(';'));
  b = Trim(b);
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') {
    b = b.substr(1, b.size() - 2);
  }
  return std::string(b);
}

// The single file part of a multipart/form-data body (any field name).
Result<UploadedFile> ParseMultipart(std::string_view body,
                                    const std::string& boundary) {
  auto bad = [](std::string why) {
    return siteledger::Err(Status::InvalidArgument("multipart body: " + why));
  };
  if (boundary.empty() || boundary.size() > 200) return bad("no boundary");
  const std::string delimiter = "--" + boundary;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) return bad("the boundary never appears");
  std::optional<UploadedFile> file;
  for (;;) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") break;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") return bad("malformed delimiter line");
    at += 2;
    const size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string_view::npos) return bad("a part has no body");
    const std::string_view headers = body.substr(at, headers_end - at);
    const size_t content_start = headers_end + 4;
    const size_t next = body.find("\r\n" + delimiter, content_start);
    if (next == std::string_view::npos) return bad("a part never ends");
    std::string type;
    bool is_file = false;
    for (size_t line_start = 0; line_start < headers.size();) {
      const size_t line_end = headers.find("\r\n", line_start);
      const std::string_view line =
          headers.substr(line_start, line_end == std::string_view::npos
                                         ? std::string_view::npos
                                         : line_end - line_start);
      const size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(Trim(line.substr(0, colon)));
        for (char& c : name) c = static_cast<char>(std::tolower(c));
        const std::string_view value = Trim(line.substr(colon + 1));
        if (name == "content-type") type = std::string(value);
        if (name == "content-disposition" &&
            value.find("filename") != std::string_view::npos) {
          is_file = true;
        }
      }
      if (line_end == std::string_view::npos) break;
      line_start = line_end + 2;
    }
    if (is_file) {
      if (file) return bad("expected exactly one file part");
      file =
          UploadedFile{body.substr(content_start, next - content_start), type};
    }
    at = next + 2;
  }
  if (!file) return bad("no file part (a part with a filename)");
  return *file;
}

// "bytes=a-b", "bytes=a-", "bytes=-n": one range, as [first, last]. nullopt
// for none (or anything this server does not honour, which is then ignored
// as RFC 9110 allows); `unsatisfiable` for a range past the end.
std::optional<std::pair<uint64_t, uint64_t>> ParseRange(std::string_view h,
                                                        uint64_t size,
                                                        bool& unsatisfiable) {
  unsatisfiable = false;
  if (!h.starts_with("bytes=")) return std::nullopt;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return std::nullopt;
  const size_t dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, uint64_t& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  uint64_t first = 0, last = 0;
  const std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {
    uint64_t suffix = 0;
    if (!number(b, suffix)) return std::nullopt;
    if (suffix == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    first = suffix >= size ? 0 : size - suffix;
    last = size - 1;
  } else {
    if (!number(a, first)) return std::nullopt;
    if (b.empty()) {
      last = size == 0 ? 0 : size - 1;
    } else if (!number(b, last) || last < first) {
      return std::nullopt;
    }
    if (first >= size) {
      unsatisfiable = true;
      return std::nullopt;
    }
    last = std::min(last, size - 1);
  }
  return std::make_pair(first, last);
}

// If-None-Match (RFC 9110, 13.1.2): "*", or a comma-separated list of
// entity tags compared weakly (W/"x" matches "x").
bool IfNoneMatchHits(std::string_view header, std::string_view etag) {
  header = Trim(header);
  if (header.empty()) return false;
  if (header == "*") return true;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view tag = Trim(header.substr(0, comma));
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void MediaApi::ServeBytes(const CallPtr& call, TenantId tenant,
                          const std::string& media_id,
                          std::optional<int64_t> max_age) {
  if (!ValidMediaId(media_id)) {
    return finisher_.Finish(
        call, Problem(404, "media '" + media_id + "' does not exist"));
  }
  auto view = projector_.Get(tenant, {projections::ViewKind::kMedia, media_id});
  if (!view) return finisher_.Fail(call, view.error());
  const Json* attached = *view ? (*view)->doc.Find("attached") : nullptr;
  if (attached == nullptr || !attached->as_bool()) {
    return finisher_.Finish(
        call, Problem(404, "media '" + media_id + "' does not exist"));
  }
  const std::string etag = "\"" + media_id + "\"";
  auto common = [&](HttpResponse& r) {
    r.Set("ETag", etag);
    // The bytes of an id never change; but what a signed URL serves may be
    // cached no longer than the URL lives (past it, a deletion or an
    // uninstall must be seen).
    r.Set("Cache-Control",
          max_age ? "private, max-age=" + std::to_string(*max_age)
                  : std::string("private, max-age=31536000, immutable"));
    r.Set("X-Content-Type-Options", "nosniff");
    r.Set("Accept-Ranges", "bytes");
    const std::string type((*view)->doc.GetString("type"));
    // An SVG is a document: opened directly, it must not run anything.
    if (type == "image/svg+xml")
      r.Set("Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox");
  };
  if (IfNoneMatchHits(call->request.Header("if-none-match"), etag)) {
    HttpResponse r;
    r.status = 304;
    common(r);
    return finisher_.Finish(call, std::move(r));
  }
  auto bytes = log_.GetRow(tenant, storage::Family::kBlobs,
                           storage::BlobRowKey(media_id));
  if (!bytes) return finisher_.Fail(call, bytes.error());
  if (!*bytes) {
    return finisher_.Fail(call, Status::Corruption("media " + media_id +
                                                   " has a view but no bytes"));
  }
  HttpResponse r;
  common(r);
  r.Set("Content-Type", std::string((*view)->doc.GetString("type")));
  const uint64_t size = (*bytes)->size();
  bool unsatisfiable = false;
  auto range = ParseRange(call->request.Header("range"), size, unsatisfiable);
  if (unsatisfiable) {
    HttpResponse bad = Problem(416, "the range lies outside the " +
                                        std::to_string(size) + "-byte image");
    bad.Set("Content-Range", "bytes */" + std::to_string(size));
    return finisher_.Finish(call, std::move(bad));
  }
  if (range) {
    r.status = 206;
    r.Set("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                               std::to_string(range->second) + "/" +
                               std::to_string(size));
    r.body = (*bytes)->substr(range->first, range->second - range->first + 1);
  } else {
    r.status = 200;
    r.body = std::move(**bytes);
  }
  finisher_.Finish(call, std::move(r));
}

void MediaApi::Serve(const CallPtr& call) {
  switch (call->route->action) {
    case Action::kGetMedia:
      return ServeBytes(call, call->tenant, call->Param("id"));
    case Action::kUploadMedia:
      return Upload(call);
    case Action::kDeleteMedia:
      return Delete(call);
    case Action::kMediaUrl:
      return SignUrl(call);
    case Action::kSignedMedia:
      return ServeSigned(call);
    default:
      return finisher_.Fail(call, Status::Internal("media has no action for " +
                                                   call->route->method + " " +
                                                   call->route->path));
  }
}

void MediaApi::Upload(const CallPtr& call) {
  const TenantId tenant = call->tenant;
  {
    auto kind_name = call->Query("kind");
    auto kind =
        kind_name ? projections::MediaKindFromName(*kind_name) : std::nullopt;
    if (!kind) {
      return finisher_.Fail(
          call,
          Status::InvalidArgument("kind: expected layout-image, theme-image, "
                                  "logo, favicon or app-icon"));
    }
    UploadedFile upload;
    const std::string content_type(call->request.Header("content-type"));
    if (content_type.starts_with("multipart/form-data")) {
      auto parsed = ParseMultipart(call->request.body, Boundary(content_type));
      if (!parsed) return finisher_.Fail(call, parsed.error());
      upload = *parsed;
    } else {
      upload = UploadedFile{call->request.body, content_type};
    }
    const size_t limit = config_.media_max_bytes.at(std::string(*kind_name));
    if (upload.bytes.size() > limit) {
      return finisher_.Fail(
          call, Status::TooLarge("a " + *kind_name + " may be at most " +
                                 std::to_string(limit) + " bytes"));
    }
    auto info = projections::InspectMedia(
        upload.bytes, {.max_pixels = config_.media_max_pixels});
    if (!info) return finisher_.Fail(call, info.error());
    auto declared = projections::MediaTypeFromName(upload.declared_type);
    if (!declared) {
      return finisher_.Fail(
          call,
          Status::Unsupported("declare the image's type (Content-Type such "
                              "as image/png); '" +
                              upload.declared_type + "' is not an image type"));
    }
    if (*declared != info->type) {
      return finisher_.Fail(
          call, Status::Unsupported(
                    "the declared type " +
                    std::string(projections::MediaTypeName(*declared)) +
                    " disagrees with the bytes, which are " +
                    std::string(projections::MediaTypeName(info->type))));
    }
    const std::string id = projections::MediaId(upload.bytes);
    projections::Command c;
    c.type = projections::CommandType::kUploadMedia;
    c.id = id;
    c.actor = call->actor;
    c.body = Json::MakeObject();
    c.body.Set("kind", *kind_name);
    c.body.Set("type", projections::MediaTypeName(info->type));
    c.body.Set("size", static_cast<int64_t>(upload.bytes.size()));
    if (info->width) c.body.Set("width", static_cast<int64_t>(*info->width));
    if (info->height) {
      c.body.Set("height", static_cast<int64_t>(*info->height));
    }
    c.idempotency_key = std::string(call->request.Header("idempotency-key"));
    c.fingerprint = "POST media " + id;
    c.extra_writes.push_back({storage::Family::kBlobs, storage::WriteOp::kPut,
                              storage::BlobRowKey(id),
                              std::string(upload.bytes)});
    projector_.Execute(
        tenant, std::move(c),
        [this, call, id](Result<projections::CommandResult> result) {
          if (result && result->last.value() > 0) feed_.Notify(call->tenant);
          Finisher::Later(call, [this, call, id, result = std::move(result)] {
            if (!result) return finisher_.Fail(call, result.error());
            if (!result->view) {
              return finisher_.Fail(
                  call, Status::Internal("upload left no media view"));
            }
            const bool created = result->last.value() > 0;
            HttpResponse r =
                JsonResponse(created ? 201 : 200, MediaJson(result->view->doc));
            r.Set("Location", "/api/v1/media/" + id);
            r.Set("ETag", "\"" + id + "\"");
            finisher_.Finish(call, std::move(r));
          });
        });
  }
}

void MediaApi::Delete(const CallPtr& call) {
  const TenantId tenant = call->tenant;
  {
    const std::string id = call->Param("id");
    if (!ValidMediaId(id)) {
      return finisher_.Finish(
          call, Problem(404, "media '" + id + "' does not exist"));
    }
    // The bytes stay with the tenant's history: a restore to before the
    // deletion brings the image back, bytes and all. They go with the
    // tenant's data when it is purged.
    projections::Command c;
    c.type = projections::CommandType::kDeleteMedia;
    c.id = id;
    c.actor = call->actor;
    projector_.Execute(tenant, std::move(c),
                       [this, call](Result<projections::CommandResult> result) {
                         if (result) feed_.Notify(call->tenant);
                         Finisher::Later(
                             call, [this, call, result = std::move(result)] {
                               if (!result)
                                 return finisher_.Fail(call, result.error());
                               finisher_.Finish(call, NoContent());
                             });
                       });
  }
}

void MediaApi::SignUrl(const CallPtr& call) {
  const TenantId tenant = call->tenant;
  {
    const std::string id = call->Param("id");
    if (url_key_ == nullptr) {
      return finisher_.Fail(call,
                            Status::Unavailable("signed media URLs are off"));
    }
    auto view = projector_.Get(tenant, {projections::ViewKind::kMedia, id});
    if (!view) return finisher_.Fail(call, view.error());
    const Json* attached = *view ? (*view)->doc.Find("attached") : nullptr;
    if (!ValidMediaId(id) || attached == nullptr || !attached->as_bool()) {
      return finisher_.Finish(
          call, Problem(404, "media '" + id + "' does not exist"));
    }
    // The handle names the tenant by its clientKey, sealed with the key
    // every region shares: never by this region's internal id, so the URL
    // keeps working after a residency migration.
    auto sealed = url_key_->DeriveAead("media-url-tenant")
                      .Seal(call->record->client_key, "media url handle");
    if (!sealed) return finisher_.Fail(call, sealed.error());
    const std::string handle = Base64UrlEncode(*sealed) + "." + id;
    const int64_t expires =
        std::chrono::duration_cast<std::chrono::seconds>(
            (clock_.Now() + config_.media_url_ttl).time_since_epoch())
            .count();
    const std::string signed_part = handle + "\n" + std::to_string(expires);
    const std::string sig = storage::ToHex(storage::HmacSha256(
        url_key_->Derive("media-url-signature"), signed_part));
    const std::string path =
        "/media/" + handle + "?exp=" + std::to_string(expires) + "&sig=" + sig;
    Json body = Json::MakeObject();
    body.Set("url", config_.base_url + path);
    body.Set("path", path);
    body.Set("expiresAt", siteledger::FormatRfc3339(
                              siteledger::TimestampFromMillis(expires * 1000)));
    return finisher_.Finish(call, JsonResponse(200, body));
  }
}

void MediaApi::ServeSigned(const CallPtr& call) {
  auto denied = [&](std::string_view why) {
    finisher_.Finish(call, Problem(403, why));
  };
  if (url_key_ == nullptr) {
    return finisher_.Fail(call,
                          Status::Unavailable("signed media URLs are off"));
  }
  const std::string& handle = call->Param("handle");
  auto exp = call->Query("exp");
  auto sig = call->Query("sig");
  if (!exp || !sig) return denied("a media URL needs exp and sig");
  const std::string expected = storage::ToHex(storage::HmacSha256(
      url_key_->Derive("media-url-signature"), handle + "\n" + *exp));
  if (!storage::ConstantTimeEquals(expected, *sig)) {
    return denied("the URL's signature does not verify");
  }
  int64_t expires = 0;
  auto [ptr, ec] =
      std::from_chars(exp->data(), exp->data() + exp->size(), expires);
  if (ec != std::errc() || ptr != exp->data() + exp->size() ||
      siteledger::TimestampFromMillis(expires * 1000) < clock_.Now()) {
    return denied("the URL has expired");
  }
  const size_t dot = handle.rfind('.');
  if (dot == std::string::npos) return denied("a malformed media URL");
  auto sealed = Base64UrlDecode(std::string_view(handle).substr(0, dot));
  if (!sealed) return denied("a malformed media URL");
  auto client_key = url_key_->DeriveAead("media-url-tenant")
                        .Open(*sealed, "media url handle");
  if (!client_key) return denied("a malformed media URL");
  auto record = auth_.ByClientKey(*client_key);
  if (!record) {
    return finisher_.Finish(
        call, Problem(404, "this site's media is not served here"));
  }
  // A URL made before a residency migration: the home serves it.
  if (auto r = HomeRedirect(config_, **record, call->request.target)) {
    return finisher_.Finish(call, std::move(*r));
  }
  if ((*record)->state != storage::LifecycleState::kInstalled) {
    return denied("the app is uninstalled from this site");
  }
  if (!(*record)->enabled) return denied("the app is disabled on this site");
  call->tenant = (*record)->id;
  const int64_t now_s = siteledger::MillisOf(clock_.Now()) / 1000;
  ServeBytes(call, call->tenant, handle.substr(dot + 1),
             std::max<int64_t>(0, expires - now_s));
}

}  // namespace siteledger::server
