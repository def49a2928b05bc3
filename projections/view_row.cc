#include "projections/view_row.h"

#include "storage/base/coding.h"

namespace siteledger::projections {

std::string EncodeViewRow(const ViewDoc& row) {
  std::string out;
  coding::PutU64(out, row.version.value());
  row.doc.Write(out);
  return out;
}

Result<ViewRowText> SplitViewRow(std::string_view value) {
  coding::Reader r(value);
  auto version = r.U64();
  if (!version) return Err(Status::Corruption("view row is truncated"));
  return ViewRowText{Sequence(*version), r.Rest()};
}

Result<ViewDoc> ParseViewRow(Sequence version, std::string_view json) {
  auto doc = ParseJson(json, TrustedJsonLimits());
  if (!doc) {
    return Err(Status::Corruption("view row does not parse: " +
                                  doc.error().message()));
  }
  return ViewDoc{std::move(*doc), version};
}

Result<ViewDoc> DecodeViewRow(std::string_view value) {
  auto row = SplitViewRow(value);
  if (!row) return Err(row.error());
  return ParseViewRow(row->version, row->json);
}

}  // namespace siteledger::projections
