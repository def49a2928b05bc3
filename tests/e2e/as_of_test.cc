// Reads of the past: ?as_of=seq:N and ?as_of=<RFC 3339 time>.

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE(
    "Reads as of an earlier seq or time show entities and lists as they were "
    "then",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-as-of");
  REQUIRE(w.Call(t, "GET", "/api/v1/sites").status == 200);
  Response created =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"Old name"})");
  REQUIRE(created.status == 201);
  const std::string id(created.json().GetString("id"));
  const int64_t v1 = created.json().GetInt("version");
  // The time of the creation, as the log has it.
  std::string created_at;
  for (const Json& e : EventsAfter(w, t, 0)) {
    if (e.GetInt("seq") == v1) created_at = std::string(e.GetString("time"));
  }
  REQUIRE(!created_at.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  Response renamed =
      w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":"New name"})");
  REQUIRE(renamed.status == 200);
  Response later = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Later"})");
  REQUIRE(later.status == 201);
  const std::string later_id(later.json().GetString("id"));
  REQUIRE(
      w.Call(t, "PUT", "/api/v1/sites/" + id + "/navigation",
             R"({"items":[{"id":"a","label":"A","link":{"contentId":"1"}}]})")
          .status == 200);

  for (const std::string& as_of : {"seq:" + std::to_string(v1), created_at}) {
    INFO("as_of=" << as_of);
    Response old = w.Call(t, "GET", "/api/v1/sites/" + id + "?as_of=" + as_of);
    INFO(old.body);
    REQUIRE(old.status == 200);
    CHECK(old.json().GetString("name") == "Old name");
    CHECK(old.json().GetInt("version") == v1);
    CHECK(old.header("etag") == "\"" + std::to_string(v1) + "\"");
    // Created after that point: not there yet.
    CHECK(IsProblem(
        w.Call(t, "GET", "/api/v1/sites/" + later_id + "?as_of=" + as_of),
        404));
    Response list = w.Call(t, "GET", "/api/v1/sites?as_of=" + as_of);
    INFO(list.body);
    REQUIRE(list.status == 200);
    const Json listed = list.json();
    const auto& items = listed.Find("items")->as_array();
    REQUIRE(items.size() == 1);
    CHECK(items[0].GetString("id") == id);
    CHECK(items[0].GetString("name") == "Old name");
    CHECK(listed.Find("nextCursor")->is_null());
    Response nav =
        w.Call(t, "GET", "/api/v1/sites/" + id + "/navigation?as_of=" + as_of);
    REQUIRE(nav.status == 200);
    INFO(nav.body);
    REQUIRE(nav.json().Find("items") != nullptr);
    CHECK(nav.json().Find("items")->as_array().empty());
  }

  // Now, and as of now: the new name, both sites.
  const std::string head = "seq:" + std::to_string(LastSeq(w, t));
  CHECK(w.Call(t, "GET", "/api/v1/sites/" + id + "?as_of=" + head)
            .json()
            .GetString("name") == "New name");
  CHECK(w.Call(t, "GET", "/api/v1/sites?as_of=" + head)
            .json()
            .Find("items")
            ->as_array()
            .size() == 2);
  CHECK(w.Call(t, "GET", "/api/v1/sites/" + id).json().GetString("name") ==
        "New name");
  // As of a time before anything: nothing.
  CHECK(IsProblem(
      w.Call(t, "GET", "/api/v1/sites/" + id + "?as_of=2001-01-01T00:00:00Z"),
      404));
  CHECK(w.Call(t, "GET", "/api/v1/sites?as_of=2001-01-01T00:00:00Z")
            .json()
            .Find("items")
            ->as_array()
            .empty());
  // Paging works as of a point too.
  Response page = w.Call(t, "GET", "/api/v1/sites?limit=1&as_of=" + head);
  REQUIRE(page.status == 200);
  CHECK(page.json().Find("items")->as_array().size() == 1);
  REQUIRE(page.json().Find("nextCursor")->is_string());
  Response page2 = w.Call(t, "GET",
                          "/api/v1/sites?limit=1&as_of=" + head + "&cursor=" +
                              page.json().Find("nextCursor")->as_string());
  REQUIRE(page2.status == 200);
  REQUIRE(page2.json().Find("items")->as_array().size() == 1);
  CHECK(page2.json().Find("items")->as_array()[0].GetString("id") !=
        page.json().Find("items")->as_array()[0].GetString("id"));

  // Other kinds of entity: promoted results and a featured page, changed
  // and cleared since.
  Response promoted = w.Call(t, "PUT", "/api/v1/search/promoted/Payroll",
                             R"({"results":[{"contentId":"1"}]})");
  REQUIRE(promoted.status == 200);
  Response featured =
      w.Call(t, "PUT", "/api/v1/pages/77/featured", R"({"text":"Before"})");
  REQUIRE(featured.status == 200);
  const std::string then = "seq:" + std::to_string(LastSeq(w, t));
  REQUIRE(w.Call(t, "PUT", "/api/v1/search/promoted/payroll",
                 R"({"results":[{"contentId":"2"},{"contentId":"3"}]})")
              .status == 200);
  REQUIRE(w.Call(t, "DELETE", "/api/v1/pages/77/featured").status == 204);
  Response old_promoted =
      w.Call(t, "GET", "/api/v1/search/promoted/PAYROLL?as_of=" + then);
  INFO(old_promoted.body);
  REQUIRE(old_promoted.status == 200);
  CHECK(old_promoted.json().Find("results")->as_array().size() == 1);
  Response old_promoted_list =
      w.Call(t, "GET", "/api/v1/search/promoted?as_of=" + then);
  INFO(old_promoted_list.body);
  REQUIRE(old_promoted_list.status == 200);
  CHECK(IdsOf(old_promoted_list.json(), "keyword") ==
        std::vector<std::string>{"payroll"});
  CHECK(w.Call(t, "GET", "/api/v1/search/promoted/payroll")
            .json()
            .Find("results")
            ->as_array()
            .size() == 2);
  Response old_featured =
      w.Call(t, "GET", "/api/v1/pages/77/featured?as_of=" + then);
  INFO(old_featured.body);
  CHECK(old_featured.status == 200);
  CHECK(old_featured.json().GetString("text") == "Before");
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/pages/77/featured"), 404));

  // Malformed as_of.
  for (const std::string& bad :
       std::vector<std::string>{"yesterday", "seq:", "seq:abc", "seq:-1",
                                "2024-13-01T00:00:00Z", "2024-01-01"}) {
    INFO("as_of=" << bad);
    CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites/" + id + "?as_of=" + bad),
                    400));
    CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites?as_of=" + bad), 400));
  }
  // Writes are always to the present.
  const uint64_t before = LastSeq(w, t);
  CHECK(IsProblem(
      w.Call(t, "PATCH",
             "/api/v1/sites/" + id + "?as_of=seq:" + std::to_string(v1),
             R"({"name":"Rewrite history"})"),
      400));
  CHECK(ChangesAfter(w, t, before).empty());
}

TEST_CASE(
    "A list as of a point ends with a null nextCursor when its last page is "
    "full",
    "[e2e]") {
  // Server bug (server/api.cc, serve_list, the as_of branch): the page is
  // cut at `limit` items without looking for one more, so a last page that
  // is exactly full still carries a nextCursor, which leads to an empty
  // page. The present-time list (Projector::List reads limit + 1 rows)
  // answers null there.
  World w;
  Tenant t = w.Install("client-as-of-cursor");
  for (const char* name : {"One", "Two"}) {
    REQUIRE(w.Call(t, "POST", "/api/v1/sites",
                   std::string(R"({"name":")") + name + "\"}")
                .status == 201);
  }
  const std::string head = "seq:" + std::to_string(LastSeq(w, t));
  Response now = w.Call(t, "GET", "/api/v1/sites?limit=2");
  REQUIRE(now.status == 200);
  CHECK(now.json().Find("items")->as_array().size() == 2);
  CHECK(now.json().Find("nextCursor")->is_null());
  Response then = w.Call(t, "GET", "/api/v1/sites?limit=2&as_of=" + head);
  INFO(then.body);
  REQUIRE(then.status == 200);
  CHECK(then.json().Find("items")->as_array().size() == 2);
  CHECK(then.json().Find("nextCursor")->is_null());
}

// Data from before view versions existed: the registry's views-format row
// absent and nothing in the snapshots family (what a build with whole-state
// snapshots left behind, its snapshots aside). Done with raw RocksDB on the
// stopped server's files.
// Keeps the last operand: enough for a raw open to replay the log's index
// merges (RocksDB refuses a merge into a family without an operator, and
// its recovery then stops at that write, dropping every later one). The
// index rows it leaves are rewritten by the rebuild at start.
class LastOperand final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice*,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger*) const override {
    new_value->assign(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "siteledger.BitmapOr"; }
};

void ForgetVersions(const std::filesystem::path& data) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data.string(),
                                          &names)
              .ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names) {
    rocksdb::ColumnFamilyOptions options;
    if (name == "index")
      options.merge_operator = std::make_shared<LastOperand>();
    families.emplace_back(name, options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), data.string(), families,
                            &handles, &raw)
              .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "tenants") {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), handles[i],
                         std::string(8, '\0') + "V")
                  .ok());
    } else if (names[i] == "snapshots") {
      REQUIRE(db->DeleteRange(rocksdb::WriteOptions(), handles[i],
                              std::string(8, '\0'), std::string(8, '\xff'))
                  .ok());
    }
  }
  for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  REQUIRE(db->Close().ok());
}

TEST_CASE(
    "Data from before view versions is rebuilt at start, and on "
    "--rebuild-views, and reads as of the past again",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-upgrade");
  Response created = w.Call(t, "POST", "/api/v1/sites", R"({"name":"First"})");
  REQUIRE(created.status == 201);
  const std::string id(created.json().GetString("id"));
  const int64_t v1 = created.json().GetInt("version");
  REQUIRE(w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":"Second"})")
              .status == 200);
  const std::string old_read =
      "/api/v1/sites/" + id + "?as_of=seq:" + std::to_string(v1);
  REQUIRE(w.Call(t, "GET", old_read).json().GetString("name") == "First");

  w.server->Stop();
  ForgetVersions(w.dir / "us");
  w.server->Start();
  CHECK(w.server->Log().find("rebuilt the views") != std::string::npos);
  Response old = w.Call(t, "GET", old_read);
  INFO(old.body);
  INFO(w.server->Log());
  REQUIRE(old.status == 200);
  CHECK(old.json().GetString("name") == "First");
  CHECK(w.Call(t, "GET", "/api/v1/sites/" + id).json().GetString("name") ==
        "Second");

  // Once upgraded, a restart rebuilds nothing; --rebuild-views rebuilds on
  // demand and exits.
  w.server->Stop();
  w.server->Start();
  CHECK(w.server->Log().find("rebuilt the views") == std::string::npos);
  w.server->Stop();
  ForgetVersions(w.dir / "us");
  ProcessResult rebuilt =
      RunProcess({SiteledgerdPath(), "--data", (w.dir / "us").string(),
                  "--rebuild-views"});
  INFO(rebuilt.err);
  CHECK(rebuilt.exit_code == 0);
  CHECK(rebuilt.err.find("rebuilt the views") != std::string::npos);
  w.server->Start();
  CHECK(w.Call(t, "GET", old_read).json().GetString("name") == "First");
}

}  // namespace
}  // namespace siteledger::e2e
