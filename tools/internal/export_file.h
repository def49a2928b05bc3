#pragma once

// The export file's reader (`siteledger export` writes it, `siteledger
// import` reads it): NDJSON, a header line, one line per event, pseudonym
// and medium, and a trailer with the counts, the head and a SHA-256 of the
// lines before it. docs/formats.md describes the lines.

#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::tools {

// A whole export, checked (ReadExport): what the import needs to write it
// again from the file, and to find the file changed since (events[i] is the
// hash of seq i + 1). The payloads and media bytes are not kept: the
// import reads them again, so its memory follows the number of events, not
// the file's size.
struct ExportFile {
  std::string client_key;
  std::string base_url;
  std::string region;
  std::vector<Hash> events;
  std::vector<std::pair<std::string, std::string>> pseudonyms;
  std::vector<std::string> media;  // ids
  Sequence head_seq;
  Hash head_hash{};
  std::string views_digest;  // hex
};

// Reads and checks a whole export from `in` (`name` says where it comes
// from, in errors). InvalidArgument naming the line (and the seq, for an
// event) and what is wrong; IOError if it cannot be read.
Result<ExportFile> ReadExport(std::istream& in, const std::string& name);

}  // namespace siteledger::tools
