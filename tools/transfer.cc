// siteledger export / import: one tenant as NDJSON (docs/formats.md,
// "Tenant export"), read from a region opened read-only and written into
// another region's folder while no siteledgerd holds it.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "projections/json.h"
#include "projections/media.h"
#include "projections/projector.h"
#include "server/jwt.h"
#include "storage/base/rfc3339.h"
#include "storage/blob_keys.h"
#include "storage/crypto.h"
#include "storage/envelope.h"
#include "tools/flags.h"
#include "tools/internal/export_file.h"
#include "tools/offline.h"
#include "tools/offline_commands.h"
#include "tools/progress.h"

namespace siteledger::tools {

const char kExportUsage[] =
    "siteledger export --tenant CLIENTKEY [--data DIR] [--out FILE] [region "
    "flags]";

const char kExportHelp[] =
    R"(  Writes one tenant as NDJSON (docs/formats.md, "Tenant export"): a header,
  one line per event (its canonical envelope, base64url, and its SHA-256),
  the tenant's pseudonyms (pseudonym -> Atlassian account id: personal
  data), its media (bytes, base64url, with their SHA-256), and a trailer
  (counts, head, views digest, SHA-256 of the lines before it). Never the
  sharedSecret nor any key. To stdout (not a terminal) or to --out FILE
  (created mode 0600). Prints the head and the views digest to stderr.
  Read-only: opens the region read-only (beside a running siteledgerd, or
  a stopped region), and exports it as it was when opened.
  Refuses a tenant whose hash chain is broken (run siteledger verify).
  Exit status: 0 written; 1 the tenant could not be read or its chain is
  broken; 2 a bad command line.
)";

std::string_view ExportHelp() {
  static const std::string text =
      std::string(kExportHelp) + "\n" + kRegionFlagsHelp;
  return text;
}

const char kImportUsage[] =
    "siteledger import FILE [--data DIR] [region flags]";

const char kImportHelp[] =
    R"(  Imports a tenant written by siteledger export into the region's folder.
  Reads and checks the WHOLE file first (every line parses, every
  envelope's SHA-256, the chain dense from seq 1, the header's head, the
  media's SHA-256, the trailer's counts and checksum) and refuses a broken
  or tampered file, naming the seq (or line) and the problem, before
  anything is opened or written. Refuses a clientKey the region already
  has. Then creates the tenant, appends its events with their original
  seqs, times and hashes, its pseudonyms and media, folds its views and
  prints their digest, which must equal the source's (the trailer's).
  The imported tenant has no sharedSecret (an export never holds one): it
  waits, as an uninstalled tenant does, for Atlassian's next signed
  `installed` callback, which brings the secret and restores it; requests
  are refused until then, and it is purged 30 days after the import if
  none comes.
  OFFLINE ONLY: writes the data folder; refuses while siteledgerd holds it.
  Exit status: 0 imported; 1 refused or failed; 2 a bad command line.
)";

std::string_view ImportHelp() {
  static const std::string text =
      std::string(kImportHelp) + "\n" + kRegionFlagsHelp;
  return text;
}

namespace {

using projections::Json;

constexpr char kFormatName[] = "siteledger-tenant-export";
constexpr int64_t kFormatVersion = 1;
// An imported tenant waits this long for its installed callback, as an
// uninstalled one does (server/lifecycle.cc).
constexpr auto kAwaitInstall = std::chrono::days(30);

// Appends `line` and a newline to the output, and to the running checksum.
class Writer {
 public:
  explicit Writer(std::FILE* out) : out_(out) {}
  bool Line(const Json& line) {
    std::string text = line.Dump();
    text += '\n';
    hasher_.Update(text);
    return std::fwrite(text.data(), 1, text.size(), out_) == text.size();
  }
  Hash Checksum() { return hasher_.Finish(); }

 private:
  std::FILE* out_;
  storage::Sha256Hasher hasher_;
};

Json EventLine(const storage::Event& e) {
  Json line = Json::MakeObject();
  line.Set("kind", "event");
  line.Set("seq", e.seq.value());
  line.Set("time", FormatRfc3339(e.time));
  line.Set("type", e.type);
  line.Set("hash", HexOf(storage::HashOf(e)));
  line.Set("envelope", server::Base64UrlEncode(storage::EncodeCanonical(e)));
  return line;
}

}  // namespace

int Export(const Invocation& in) {
  const Flags& f = in.flags;
  const std::string client_key = f.Get("tenant");
  if (client_key.empty()) {
    return OfflineFail("export needs --tenant CLIENTKEY", kUsageError);
  }
  const std::string out_path = f.Get("out");
  if (out_path.empty() && ::isatty(STDOUT_FILENO) == 1) {
    return OfflineFail(
        "export writes NDJSON: redirect stdout to a file (> FILE) or use "
        "--out FILE",
        kUsageError);
  }

  SystemClock clock;
  auto region = OpenReadOnly(f, clock);
  if (!region) return OfflineFail(region.error().message(), 1);
  storage::Store& store = *(*region)->store;
  auto tenants = SelectTenants(store, client_key);
  if (!tenants) return OfflineFail(tenants.error().message(), 1);
  const storage::TenantRecord rec = tenants->front();
  if (auto why = NothingToCheck(rec)) {
    return OfflineFail(TenantName(rec) + " cannot be exported: " + *why, 1);
  }
  storage::EventLog& log = store.log();
  projections::Projector projector(log, store.clock());
  auto head = log.GetHead(rec.id);
  if (!head) return OfflineFail(head.error().ToString(), 1);
  auto digest = projector.ViewsDigest(rec.id);
  if (!digest) return OfflineFail(digest.error().ToString(), 1);

  // Pseudonyms (their reverse rows "p" + pseudonym -> account id) and the
  // number of media first: the header counts them.
  std::vector<std::pair<std::string, std::string>> pseudonyms;
  for (std::string after;;) {
    auto rows =
        log.ScanRows(rec.id, storage::Family::kPseudonyms, "p", after, 1000);
    if (!rows) return OfflineFail(rows.error().ToString(), 1);
    for (auto& [key, account] : *rows) {
      pseudonyms.emplace_back(key.substr(1), account);
    }
    if (rows->size() < 1000) break;
    after = rows->back().first;
  }
  // The media: every row of the blobs family (key: the SHA-256 of the
  // bytes), counted first for the header.
  uint64_t media_count = 0;
  {
    auto it = log.NewRowIterator(rec.id, storage::Family::kBlobs);
    if (!it) return OfflineFail(it.error().ToString(), 1);
    for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) ++media_count;
    if (!(*it)->status().ok()) {
      return OfflineFail((*it)->status().ToString(), 1);
    }
  }

  std::FILE* out = stdout;
  if (!out_path.empty()) {
    // Account ids are personal data: the file is its owner's alone.
    const int fd = ::open(out_path.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return OfflineFail(
          "cannot create " + out_path + ": " + std::strerror(errno), 1);
    }
    out = ::fdopen(fd, "w");
    if (out == nullptr) {
      ::close(fd);
      return OfflineFail("cannot open " + out_path, 1);
    }
  }
  auto fail_output = [&](const std::string& message) {
    if (out != stdout) {
      std::fclose(out);
      std::remove(out_path.c_str());  // a partial export must not be used
    }
    return OfflineFail(message, 1);
  };

  Writer w(out);
  Json header = Json::MakeObject();
  header.Set("kind", "header");
  header.Set("format", kFormatName);
  header.Set("version", kFormatVersion);
  header.Set("clientKey", rec.client_key);
  header.Set("baseUrl", rec.base_url);
  header.Set("region", store.options().region);
  header.Set("exportedAt", FormatRfc3339(clock.Now()));
  header.Set("headSeq", head->seq.value());
  header.Set("headHash", HexOf(head->hash));
  header.Set("events", head->seq.value());
  header.Set("pseudonyms", static_cast<uint64_t>(pseudonyms.size()));
  header.Set("media", media_count);
  if (!w.Line(header)) return fail_output("writing the export failed");

  // Events, checking the chain as they go: a broken chain is not exported.
  {
    Progress progress("export", "events", head->seq.value());
    Hash prev{};
    uint64_t next = 1;
    while (next <= head->seq.value()) {
      auto events = log.Read(rec.id, Sequence(next), 1000);
      if (!events) return fail_output(events.error().ToString());
      if (events->empty()) break;
      for (const storage::Event& e : *events) {
        if (e.seq.value() != next || e.prev_hash != prev) {
          return fail_output(TenantName(rec) +
                             "'s hash chain is broken at seq " +
                             std::to_string(next) +
                             ": nothing usable was exported (run siteledger "
                             "verify)");
        }
        if (!w.Line(EventLine(e))) {
          return fail_output("writing the export failed");
        }
        prev = storage::HashOf(e);
        ++next;
      }
      progress.Update(next - 1);
    }
    if (next != head->seq.value() + 1 || prev != head->hash) {
      return fail_output(TenantName(rec) + "'s log ends at seq " +
                         std::to_string(next - 1) + " but its head is " +
                         std::to_string(head->seq.value()) +
                         " (run siteledger verify)");
    }
  }
  for (const auto& [pseudonym, account] : pseudonyms) {
    Json line = Json::MakeObject();
    line.Set("kind", "pseudonym");
    line.Set("pseudonym", pseudonym);
    line.Set("accountId", account);
    if (!w.Line(line)) return fail_output("writing the export failed");
  }
  {
    auto it = log.NewRowIterator(rec.id, storage::Family::kBlobs);
    if (!it) return fail_output(it.error().ToString());
    uint64_t written = 0;
    for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
      auto bytes = (*it)->value();
      if (!bytes) return fail_output(bytes.error().ToString());
      const std::string id = storage::ToHex(storage::Sha256(*bytes));
      if (storage::ToHex((*it)->key()) != id) {
        return fail_output("media " + storage::ToHex((*it)->key()) +
                           " does not match its id (damaged)");
      }
      auto info = projections::InspectMedia(*bytes);
      Json line = Json::MakeObject();
      line.Set("kind", "media");
      line.Set("mediaId", id);
      line.Set("contentType",
               info ? std::string(projections::MediaTypeName(info->type))
                    : std::string("application/octet-stream"));
      line.Set("size", static_cast<uint64_t>(bytes->size()));
      line.Set("sha256", id);
      line.Set("bytes", server::Base64UrlEncode(*bytes));
      if (!w.Line(line)) return fail_output("writing the export failed");
      ++written;
    }
    if (!(*it)->status().ok()) return fail_output((*it)->status().ToString());
    // The same snapshot both times: a difference is a fault.
    if (written != media_count) {
      return fail_output("the media changed while they were exported");
    }
  }
  const Hash checksum = w.Checksum();
  Json trailer = Json::MakeObject();
  trailer.Set("kind", "trailer");
  trailer.Set("events", head->seq.value());
  trailer.Set("pseudonyms", static_cast<uint64_t>(pseudonyms.size()));
  trailer.Set("media", media_count);
  trailer.Set("headSeq", head->seq.value());
  trailer.Set("headHash", HexOf(head->hash));
  trailer.Set("viewsDigest", HexOf(*digest));
  trailer.Set("sha256", HexOf(checksum));
  if (!w.Line(trailer)) return fail_output("writing the export failed");
  if (std::fflush(out) != 0 || (out != stdout && ::fsync(::fileno(out)) != 0)) {
    return fail_output("writing the export failed: " +
                       std::string(std::strerror(errno)));
  }
  if (out != stdout && std::fclose(out) != 0) {
    return OfflineFail("closing " + out_path + " failed", 1);
  }
  std::fprintf(stderr,
               "exported %s from region %s: %llu events (head seq %llu, hash "
               "%s), %zu pseudonyms, %llu media; views digest %s\n",
               TenantName(rec).c_str(), store.options().region.c_str(),
               static_cast<unsigned long long>(head->seq.value()),
               static_cast<unsigned long long>(head->seq.value()),
               HexOf(head->hash).c_str(), pseudonyms.size(),
               static_cast<unsigned long long>(media_count),
               HexOf(*digest).c_str());
  return kOk;
}

namespace {

projections::JsonLimits LineLimits() {
  // A line holds one event (a payload up to 4 MiB, base64url) or one
  // medium: generous, but bounded.
  return projections::JsonLimits{.max_bytes = size_t{256} << 20,
                                 .max_depth = 4,
                                 .max_string_bytes = size_t{256} << 20,
                                 .max_array_items = 16,
                                 .max_object_members = 32,
                                 .repair_utf8 = false};
}

// The member `name` of `line` as a string / non-negative integer;
// InvalidArgument naming `where` when it is missing or of another type.
Result<std::string> StringField(const Json& line, std::string_view name,
                                const std::string& where) {
  const Json* v = line.Find(name);
  if (v == nullptr || !v->is_string()) {
    return Err(Status::InvalidArgument(where + ": \"" + std::string(name) +
                                       "\" is missing or not a string"));
  }
  return v->as_string();
}
Result<uint64_t> CountField(const Json& line, std::string_view name,
                            const std::string& where) {
  const Json* v = line.Find(name);
  if (v == nullptr || !v->is_int() || v->as_int() < 0) {
    return Err(Status::InvalidArgument(where + ": \"" + std::string(name) +
                                       "\" is missing or not a count"));
  }
  return static_cast<uint64_t>(v->as_int());
}

Result<Hash> HashField(const Json& line, std::string_view name,
                       const std::string& where) {
  auto text = StringField(line, name, where);
  if (!text) return Err(text.error());
  auto bytes = storage::FromHex(*text);
  if (!bytes || bytes->size() != 32) {
    return Err(Status::InvalidArgument(where + ": \"" + std::string(name) +
                                       "\" is not a SHA-256 in hex"));
  }
  Hash h{};
  std::memcpy(h.data(), bytes->data(), h.size());
  return h;
}

// Local to this file (undefined after ReadExport): declares `lhs` from a
// Result, or returns its error.
#define SL_ASSIGN_OR_RETURN_ERR(lhs, expr)   \
  auto lhs##_r = (expr);                     \
  if (!lhs##_r) return Err(lhs##_r.error()); \
  auto lhs = std::move(*lhs##_r)

}  // namespace

Result<ExportFile> ReadExport(std::istream& in, const std::string& name) {
  ExportFile x;
  storage::Sha256Hasher hasher;
  enum class Part { kHeader, kEvents, kPseudonyms, kMedia, kTrailer, kEnd };
  Part part = Part::kHeader;
  uint64_t want_events = 0, want_pseudonyms = 0, want_media = 0;
  Hash prev{};
  Timestamp last_time{};
  std::string text;
  uint64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    const std::string where = "line " + std::to_string(number);
    if (part == Part::kEnd) {
      return Err(Status::InvalidArgument(where + ": more after the trailer"));
    }
    if (in.eof()) {
      return Err(Status::InvalidArgument(
          where + ": the file ends without a newline (cut short?)"));
    }
    auto parsed = projections::ParseJson(text, LineLimits());
    if (!parsed || !parsed->is_object()) {
      return Err(Status::InvalidArgument(
          where + ": not a JSON object" +
          (parsed ? std::string() : " (" + parsed.error().message() + ")")));
    }
    const Json& line = *parsed;
    // Canonical lines only, as export writes them: every byte then means
    // something, and the import's second reading can tell a line's kind by
    // its first member.
    if (line.Dump() != text) {
      return Err(Status::InvalidArgument(
          where +
          ": not canonical JSON (compact, members sorted), as "
          "siteledger export writes it"));
    }
    SL_ASSIGN_OR_RETURN_ERR(kind, StringField(line, "kind", where));
    if (part == Part::kHeader) {
      if (kind != "header" || line.GetString("format") != kFormatName) {
        return Err(Status::InvalidArgument(
            where + ": not a siteledger tenant export (no header)"));
      }
      if (line.GetInt("version") != kFormatVersion) {
        return Err(Status::InvalidArgument(
            where + ": export format version " +
            std::to_string(line.GetInt("version")) + "; this build reads " +
            std::to_string(kFormatVersion)));
      }
      SL_ASSIGN_OR_RETURN_ERR(client_key,
                              StringField(line, "clientKey", where));
      if (client_key.empty()) {
        return Err(Status::InvalidArgument(where + ": an empty clientKey"));
      }
      x.client_key = client_key;
      SL_ASSIGN_OR_RETURN_ERR(base_url, StringField(line, "baseUrl", where));
      x.base_url = base_url;
      SL_ASSIGN_OR_RETURN_ERR(region, StringField(line, "region", where));
      x.region = region;
      SL_ASSIGN_OR_RETURN_ERR(head_seq, CountField(line, "headSeq", where));
      x.head_seq = Sequence(head_seq);
      SL_ASSIGN_OR_RETURN_ERR(head_hash, HashField(line, "headHash", where));
      x.head_hash = head_hash;
      SL_ASSIGN_OR_RETURN_ERR(events, CountField(line, "events", where));
      SL_ASSIGN_OR_RETURN_ERR(pseudonyms,
                              CountField(line, "pseudonyms", where));
      SL_ASSIGN_OR_RETURN_ERR(media, CountField(line, "media", where));
      want_events = events;
      want_pseudonyms = pseudonyms;
      want_media = media;
      part = Part::kEvents;
    } else if (kind == "event") {
      if (part != Part::kEvents) {
        return Err(Status::InvalidArgument(
            where + ": an event after the pseudonyms or media"));
      }
      const uint64_t expected = x.events.size() + 1;
      SL_ASSIGN_OR_RETURN_ERR(seq, CountField(line, "seq", where));
      if (seq != expected) {
        return Err(Status::InvalidArgument(
            "seq " + std::to_string(expected) + " is missing: " + where +
            " holds seq " + std::to_string(seq) + " where seq " +
            std::to_string(expected) +
            " belongs (an event dropped, or lines reordered)"));
      }
      const std::string at = "seq " + std::to_string(seq) + " (" + where + ")";
      SL_ASSIGN_OR_RETURN_ERR(envelope, StringField(line, "envelope", at));
      auto bytes = server::Base64UrlDecode(envelope);
      if (!bytes) {
        return Err(
            Status::InvalidArgument(at + ": the envelope is not base64url"));
      }
      auto event = storage::DecodeCanonical(*bytes);
      if (!event) {
        return Err(Status::InvalidArgument(
            at + ": the envelope does not decode: " + event.error().message()));
      }
      if (event->seq.value() != seq) {
        return Err(Status::InvalidArgument(at + ": the envelope holds seq " +
                                           std::to_string(event->seq.value())));
      }
      SL_ASSIGN_OR_RETURN_ERR(hash, HashField(line, "hash", at));
      if (storage::HashOf(*event) != hash) {
        return Err(Status::InvalidArgument(
            at +
            ": the envelope's SHA-256 is not its recorded hash (the "
            "event was altered)"));
      }
      if (event->prev_hash != prev) {
        return Err(Status::InvalidArgument(
            at + ": its previous hash is not seq " + std::to_string(seq - 1) +
            "'s hash (the chain is broken)"));
      }
      SL_ASSIGN_OR_RETURN_ERR(time, StringField(line, "time", at));
      SL_ASSIGN_OR_RETURN_ERR(type, StringField(line, "type", at));
      if (time != FormatRfc3339(event->time) || type != event->type) {
        return Err(Status::InvalidArgument(
            at + ": its time or type is not the envelope's"));
      }
      if (event->time < last_time) {
        return Err(Status::InvalidArgument(at + ": its time goes back"));
      }
      if (Status s = storage::ValidateEventParts(event->type, event->actor,
                                                 event->idempotency_key,
                                                 event->payload);
          !s.ok()) {
        return Err(Status::InvalidArgument(at + ": " + s.message()));
      }
      prev = hash;
      last_time = event->time;
      x.events.push_back(hash);
    } else if (kind == "pseudonym") {
      if (part == Part::kMedia) {
        return Err(
            Status::InvalidArgument(where + ": a pseudonym after the media"));
      }
      part = Part::kPseudonyms;
      SL_ASSIGN_OR_RETURN_ERR(pseudonym, StringField(line, "pseudonym", where));
      SL_ASSIGN_OR_RETURN_ERR(account, StringField(line, "accountId", where));
      if (pseudonym.empty() || pseudonym.size() > storage::kMaxActorBytes ||
          account.empty() || account.size() > 1024) {
        return Err(Status::InvalidArgument(
            where +
            ": a pseudonym (1 to 64 bytes) and an account id (1 to 1024 "
            "bytes) are required"));
      }
      x.pseudonyms.emplace_back(pseudonym, account);
    } else if (kind == "media") {
      part = Part::kMedia;
      SL_ASSIGN_OR_RETURN_ERR(id, StringField(line, "mediaId", where));
      const std::string at = "media " + id + " (" + where + ")";
      SL_ASSIGN_OR_RETURN_ERR(sha, StringField(line, "sha256", at));
      SL_ASSIGN_OR_RETURN_ERR(encoded, StringField(line, "bytes", at));
      auto bytes = server::Base64UrlDecode(encoded);
      if (!bytes) {
        return Err(
            Status::InvalidArgument(at + ": its bytes are not base64url"));
      }
      const std::string actual = storage::ToHex(storage::Sha256(*bytes));
      if (actual != sha || actual != id || storage::BlobRowKey(id).empty()) {
        return Err(Status::InvalidArgument(
            at + ": its bytes' SHA-256 is not its id (the media was altered)"));
      }
      x.media.push_back(id);
    } else if (kind == "trailer") {
      const std::string got = std::to_string(x.events.size()) + " events, " +
                              std::to_string(x.pseudonyms.size()) +
                              " pseudonyms, " + std::to_string(x.media.size()) +
                              " media";
      SL_ASSIGN_OR_RETURN_ERR(events, CountField(line, "events", where));
      SL_ASSIGN_OR_RETURN_ERR(pseudonyms,
                              CountField(line, "pseudonyms", where));
      SL_ASSIGN_OR_RETURN_ERR(media, CountField(line, "media", where));
      if (events != want_events || pseudonyms != want_pseudonyms ||
          media != want_media || events != x.events.size() ||
          pseudonyms != x.pseudonyms.size() || media != x.media.size()) {
        const uint64_t missing = x.events.size() + 1;
        return Err(Status::InvalidArgument(
            where + ": the file holds " + got +
            "; the header and trailer say " + std::to_string(want_events) +
            "/" + std::to_string(events) + " events, " +
            std::to_string(want_pseudonyms) + "/" + std::to_string(pseudonyms) +
            " pseudonyms, " + std::to_string(want_media) + "/" +
            std::to_string(media) + " media" +
            (x.events.size() < want_events
                 ? " (seq " + std::to_string(missing) + " on are missing)"
                 : std::string())));
      }
      SL_ASSIGN_OR_RETURN_ERR(head_seq, CountField(line, "headSeq", where));
      SL_ASSIGN_OR_RETURN_ERR(head_hash, HashField(line, "headHash", where));
      const Hash last = x.events.empty() ? Hash{} : prev;
      if (head_seq != x.head_seq.value() || head_hash != x.head_hash ||
          x.head_seq.value() != x.events.size() || x.head_hash != last) {
        return Err(Status::InvalidArgument(
            where + ": the last event (seq " + std::to_string(x.events.size()) +
            ") is not the head the header and trailer name (seq " +
            std::to_string(x.head_seq.value()) + ")"));
      }
      SL_ASSIGN_OR_RETURN_ERR(digest, StringField(line, "viewsDigest", where));
      x.views_digest = digest;
      SL_ASSIGN_OR_RETURN_ERR(checksum, HashField(line, "sha256", where));
      if (hasher.Finish() != checksum) {
        return Err(Status::InvalidArgument(
            where +
            ": the SHA-256 of the lines before the trailer is not "
            "the trailer's (the file was altered)"));
      }
      part = Part::kEnd;
      continue;
    } else if (kind == "header") {
      return Err(Status::InvalidArgument(where + ": a second header"));
    } else {
      return Err(Status::InvalidArgument(
          where + ": an unknown kind of line \"" + kind + "\""));
    }
    hasher.Update(text);
    hasher.Update("\n");
  }
  if (in.bad()) {
    return Err(Status::IOError("reading " + name + " failed"));
  }
  if (part == Part::kHeader) {
    return Err(Status::InvalidArgument("the file is empty"));
  }
  if (part != Part::kEnd) {
    return Err(Status::InvalidArgument(
        "the file ends after line " + std::to_string(number) +
        " without a trailer (cut short?)" +
        (x.events.size() < want_events
             ? "; seq " + std::to_string(x.events.size() + 1) +
                   " on are missing"
             : std::string())));
  }
  return x;
}

#undef SL_ASSIGN_OR_RETURN_ERR

namespace {

// Reads and checks the whole file at `path` (ReadExport above).
Result<ExportFile> ReadExportFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Err(
        Status::IOError("cannot read " + path + ": " + std::strerror(errno)));
  }
  return ReadExport(in, path);
}

// The first member of an event line and of a media line, in canonical JSON.
constexpr std::string_view kEventLinePrefix = "{\"envelope\":";
constexpr std::string_view kMediaLinePrefix = "{\"bytes\":";

// Calls `visit` with each line of the checked file at `path` that starts
// with `prefix`, parsed, in file order, and its line number. Stops at the
// first error `visit` returns. InvalidArgument for a line that no longer
// parses (the file changed since it was checked); IOError if it cannot be
// read.
Status ForEachLine(const std::string& path, std::string_view prefix,
                   const std::function<Status(uint64_t, const Json&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  uint64_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (!text.starts_with(prefix)) continue;
    auto parsed = projections::ParseJson(text, LineLimits());
    if (!parsed) {
      return Status::InvalidArgument("line " + std::to_string(number) +
                                     " changed since the file was checked");
    }
    SL_RETURN_IF_ERROR(visit(number, *parsed));
  }
  if (in.bad()) return Status::IOError("reading " + path + " failed");
  return Status::Ok();
}

}  // namespace

int Import(const Invocation& in) {
  const Flags& f = in.flags;
  if (f.positional.size() != 1) {
    return OfflineFail("import needs FILE: " + std::string(kImportUsage),
                       kUsageError);
  }
  const std::string path = f.positional[0];

  // The whole file, checked, before anything is opened.
  auto x = ReadExportFile(path);
  if (!x) {
    return OfflineFail(
        path + " is refused, nothing was written: " + x.error().message(), 1);
  }
  std::fprintf(stderr,
               "%s: checked: tenant %s from region %s, %zu events (head seq "
               "%llu), %zu pseudonyms, %zu media\n",
               path.c_str(), x->client_key.c_str(), x->region.c_str(),
               x->events.size(),
               static_cast<unsigned long long>(x->head_seq.value()),
               x->pseudonyms.size(), x->media.size());

  SystemClock clock;
  auto opened = OpenOffline(f, clock, "import", "");
  if (!opened) return OfflineFail(opened.error().message(), 1);
  storage::Store& store = **opened;
  if (auto existing = store.registry().Find(x->client_key); existing) {
    return OfflineFail("region " + store.options().region + " (" +
                           store.options().data.string() +
                           ") already has clientKey " + x->client_key +
                           " (tenant " + std::to_string(existing->value()) +
                           "): import never overwrites a tenant; nothing "
                           "was written",
                       1);
  } else if (existing.error().code() != StatusCode::kNotFound) {
    return OfflineFail(existing.error().ToString(), 1);
  }

  // The tenant, with a secret nobody knows: until Atlassian's next signed
  // installed callback brings the real one, it is uninstalled (requests
  // refused, data kept).
  auto secret = storage::RandomBytes(32);
  if (!secret) return OfflineFail(secret.error().ToString(), 1);
  storage::Installation installation;
  installation.client_key = x->client_key;
  installation.base_url = x->base_url;
  installation.shared_secret = storage::ToHex(*secret);
  storage::SecureWipe(*secret);
  auto installed = store.registry().Install(installation);
  storage::SecureWipe(installation.shared_secret);
  if (!installed) return OfflineFail(installed.error().ToString(), 1);
  storage::TenantRecord rec = installed->record;
  rec.state = storage::LifecycleState::kUninstalled;
  rec.uninstalled_at = clock.Now();
  rec.purge_at = *rec.uninstalled_at + kAwaitInstall;
  Status updated = store.registry().Update(rec);
  storage::SecureWipe(rec.shared_secret);
  if (!updated.ok()) return OfflineFail(updated.ToString(), 1);
  const std::string name = TenantName(rec);
  auto failed = [&](const Status& s) {
    return OfflineFail(
        "importing " + name + " failed: " + s.ToString() +
            ". The tenant is half-imported (uninstalled, so it serves "
            "nothing); remove the region's data folder if it was new, or "
            "restore its backup, and import again",
        1);
  };

  storage::EventLog& log = store.log();
  projections::Projector projector(log, store.clock());
  // Pseudonyms and media first (unsynced; the synced appends that follow
  // make them durable), as a migration's target does.
  {
    std::vector<storage::ExtraWrite> rows;
    std::vector<storage::AccountIndexWrite> accounts;
    size_t bytes = 0;
    auto flush = [&]() -> Status {
      if (rows.empty() && accounts.empty()) return Status::Ok();
      Status s = log.WriteRows(rec.id, rows, false, accounts);
      rows.clear();
      accounts.clear();
      bytes = 0;
      return s;
    };
    for (const auto& [pseudonym, account] : x->pseudonyms) {
      if (Status s = projector.AddPseudonymRows(rec.id, pseudonym, account,
                                                rows, accounts);
          !s.ok()) {
        return failed(s);
      }
      if (rows.size() >= 2000) {
        if (Status s = flush(); !s.ok()) return failed(s);
      }
    }
    // The media, read again from the file (their ids were checked).
    size_t media = 0;
    Status s = ForEachLine(
        path, kMediaLinePrefix,
        [&](uint64_t number, const Json& line) -> Status {
          const std::string id(line.GetString("mediaId"));
          auto data = server::Base64UrlDecode(line.GetString("bytes"));
          if (media >= x->media.size() || id != x->media[media] || !data ||
              storage::ToHex(storage::Sha256(*data)) != id) {
            return Status::InvalidArgument(
                "line " + std::to_string(number) +
                " changed since the file was checked");
          }
          ++media;
          bytes += data->size();
          rows.push_back({storage::Family::kBlobs, storage::WriteOp::kPut,
                          storage::BlobRowKey(id), std::move(*data)});
          if (bytes >= (size_t{16} << 20)) return flush();
          return Status::Ok();
        });
    if (s.ok() && media != x->media.size()) {
      s = Status::InvalidArgument("the file changed since it was checked");
    }
    if (s.ok()) s = flush();
    if (!s.ok()) return failed(s);
  }
  // The events, as they are (seqs, times, hashes), read again from the
  // file and appended in batches; each must be the event checked.
  {
    Progress progress("import", "events", x->events.size());
    storage::AppendRequest request;
    size_t bytes = 0;
    uint64_t appended = 0;
    auto append = [&]() -> Status {
      if (request.imported.empty()) return Status::Ok();
      request.tenant = rec.id;
      const uint64_t n = request.imported.size();
      auto done = log.Append(std::move(request));
      request = storage::AppendRequest();
      bytes = 0;
      if (!done) return done.error();
      appended += n;
      progress.Update(appended);
      return Status::Ok();
    };
    uint64_t seen = 0;
    Status s = ForEachLine(
        path, kEventLinePrefix,
        [&](uint64_t number, const Json& line) -> Status {
          std::optional<storage::Event> event;
          if (auto envelope =
                  server::Base64UrlDecode(line.GetString("envelope"))) {
            if (auto decoded = storage::DecodeCanonical(*envelope)) {
              event = std::move(*decoded);
            }
          }
          if (!event || seen >= x->events.size() ||
              event->seq.value() != seen + 1 ||
              storage::HashOf(*event) != x->events[seen]) {
            return Status::InvalidArgument(
                "line " + std::to_string(number) +
                " changed since the file was checked");
          }
          ++seen;
          bytes += event->payload.size() + 256;
          request.imported.push_back(std::move(*event));
          if (request.imported.size() >= 1000 || bytes >= (size_t{8} << 20)) {
            return append();
          }
          return Status::Ok();
        });
    if (s.ok()) s = append();
    if (s.ok() && seen != x->events.size()) {
      s = Status::InvalidArgument("the file changed since it was checked");
    }
    if (!s.ok()) return failed(s);
  }
  // CatchUp's fold writes the views and the event index.
  if (x->head_seq.value() > 0) {
    if (Status s = projector.CatchUp(rec.id, Sequence(1)); !s.ok()) {
      return failed(s);
    }
  }
  auto head = log.GetHead(rec.id);
  if (!head) return failed(head.error());
  auto digest = projector.ViewsDigest(rec.id);
  if (!digest) return failed(digest.error());
  const std::string digest_hex = HexOf(*digest);
  std::printf(
      "imported %s into region %s: %zu events (head seq %llu, hash %s), %zu "
      "pseudonyms, %zu media\nviews digest %s (the source's: %s)\n"
      "the tenant waits, uninstalled, for Atlassian's signed installed "
      "callback, which brings its sharedSecret; it is purged after 30 days "
      "if none comes\n",
      name.c_str(), store.options().region.c_str(), x->events.size(),
      static_cast<unsigned long long>(head->seq.value()),
      HexOf(head->hash).c_str(), x->pseudonyms.size(), x->media.size(),
      digest_hex.c_str(), x->views_digest.c_str());
  const bool same_head = head->seq == x->head_seq && head->hash == x->head_hash;
  const bool same_views = digest_hex == x->views_digest;
  if (Status s = AuditOffline(
          store, rec, "tool.import",
          same_head && same_views ? "ok" : "imported, but it differs",
          "imported from region " + x->region + ": " +
              std::to_string(x->events.size()) + " events, head seq " +
              std::to_string(head->seq.value()) + ", views digest " +
              digest_hex +
              (same_views ? "" : " (the source's: " + x->views_digest + ")"));
      !s.ok()) {
    return OfflineFail("recording the import in the audit log: " + s.ToString(),
                       1);
  }
  if (!same_head) {
    return OfflineFail("the imported head is not the export's", 1);
  }
  if (!same_views) {
    return OfflineFail(
        "the imported views' digest is not the source's: the source's "
        "stored views differ from its log (run siteledger verify on the "
        "source); the imported views are the fold of the log",
        1);
  }
  return kOk;
}

}  // namespace siteledger::tools
