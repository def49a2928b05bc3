// The event index's rows: the merge operator RocksDB runs on them in
// flushes, compactions and reads. Never crashes; a full merge always
// succeeds (bytes that are no bitmap poison the row instead of failing the
// flush); a merge of valid bitmaps holds every operand's seqs.
//
// Input: operands separated by "|||" (the first one is the existing value
// when it is not empty; any other empty one is an operand of no bytes,
// which is no bitmap).
#include <roaring/roaring.h>
#include <rocksdb/merge_operator.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "storage/internal/bitmap_rows.h"
#include "storage/internal/database.h"

using siteledger::storage::internal::ParsePortableBitmap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto op = siteledger::storage::internal::NewIndexMergeOperator();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  for (size_t at = 0; at <= text.size();) {
    size_t end = text.find("|||", at);
    if (end == std::string_view::npos) end = text.size();
    parts.emplace_back(text.substr(at, end - at));
    at = end + 3;
  }
  std::vector<rocksdb::Slice> operands;
  for (size_t i = 1; i < parts.size(); ++i) operands.emplace_back(parts[i]);
  const rocksdb::Slice existing(parts[0]);
  const rocksdb::Slice key("k");
  rocksdb::MergeOperator::MergeOperationInput in(
      key, parts[0].empty() ? nullptr : &existing, operands, nullptr);
  std::string merged;
  rocksdb::Slice existing_operand;
  rocksdb::MergeOperator::MergeOperationOutput out(merged, existing_operand);
  if (!op->FullMergeV2(in, &out)) std::abort();
  // Every valid operand's seqs are in a valid result.
  roaring_bitmap_t* result = ParsePortableBitmap(merged);
  bool all_valid = true;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 && parts[0].empty()) continue;  // no existing value
    roaring_bitmap_t* b = ParsePortableBitmap(parts[i]);
    if (b == nullptr) {
      all_valid = false;
      continue;
    }
    if (result != nullptr && !roaring_bitmap_is_subset(b, result)) std::abort();
    roaring_bitmap_free(b);
  }
  if (all_valid && result == nullptr) std::abort();
  if (result != nullptr) roaring_bitmap_free(result);
  std::deque<rocksdb::Slice> partial(operands.begin(), operands.end());
  std::string partial_out;
  (void)op->PartialMergeMulti(key, partial, &partial_out, nullptr);
  return all_valid ? 1 : 0;
}
