// read_csv: the RFC 4180 dialects it accepts, and the named error each bad input gives.
#include <catch2/catch.hpp>
#include <tl/tl.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "tests/frontend/data/data_test_util.h"
#include "tests/support/spawn_self.h"

using tl::data::CsvOptions;
using tl::data::read_csv;
using tl::test::csv_file;

namespace {

// The message of the IoError that reading `content` throws; fails the test on anything else.
std::string csv_error(const std::string& content, const CsvOptions& options = {.target = "label"},
                      const std::string& name = "data.csv") {
  std::string path = csv_file(name, content);
  try {
    read_csv(path, options);
  } catch (const tl::IoError& e) {
    return e.what();
  }
  FAIL("no IoError for:\n" << content);
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("read_csv reads numeric features and string labels", "[data][csv]") {
  auto ds = read_csv(csv_file("iris_like.csv", "a,b,label\n1,2.5,cat\n3,-4e2,dog\n5,6,cat\n"),
                     {.target = "label"});
  REQUIRE(ds->size() == 3);
  REQUIRE(ds->features().shape() == tl::Shape{3, 2});
  CHECK(ds->features().dtype() == tl::kFloat32);
  CHECK(ds->features().to_vector<float>() == std::vector<float>{1, 2.5f, 3, -400, 5, 6});
  CHECK(ds->targets().dtype() == tl::kInt64);
  CHECK(ds->targets().to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  CHECK(ds->class_names() == std::vector<std::string>{"cat", "dog"});
  CHECK(ds->class_index("dog") == 1);
  CHECK(ds->feature_names() == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_AS(ds->class_index("cow"), tl::ValueError);
}

TEST_CASE("read_csv orders class labels sorted by default or by first appearance", "[data][csv]") {
  std::string path = csv_file("order.csv", "x,y\n1,b\n2,c\n3,a\n4,b\n");
  auto sorted = read_csv(path, {.target = "y"});
  CHECK(sorted->class_names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(sorted->targets().to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0, 1});
  auto first = read_csv(path, {.target = "y", .label_order = tl::data::LabelOrder::kFirstAppearance});
  CHECK(first->class_names() == std::vector<std::string>{"b", "c", "a"});
  CHECK(first->targets().to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0});
  // Numeric labels sort by value, not as text ("10" after "9").
  auto digits = read_csv(csv_file("num.csv", "x,d\n1,10\n2,9\n3,0\n"),
                         {.target = "d", .target_kind = tl::data::TargetKind::kClasses});
  CHECK(digits->class_names() == std::vector<std::string>{"0", "9", "10"});
  CHECK(digits->targets().to_vector<int64_t>() == std::vector<int64_t>{2, 1, 0});
}

TEST_CASE("read_csv gives a numeric target as float32 and selects columns", "[data][csv]") {
  std::string path = csv_file("reg.csv", "a,b,c,y\n1,2,3,0.5\n4,5,6,1.5\n");
  auto ds = read_csv(path, {.target = "y", .columns = {"c", "a"}});
  CHECK(ds->targets().dtype() == tl::kFloat32);
  CHECK(ds->targets().to_vector<float>() == std::vector<float>{0.5f, 1.5f});
  CHECK(ds->feature_names() == std::vector<std::string>{"c", "a"});
  CHECK(ds->features().to_vector<float>() == std::vector<float>{3, 1, 6, 4});
  CHECK_FALSE(ds->has_class_labels());
  auto none = read_csv(path);
  CHECK_FALSE(none->targets().defined());
  CHECK(none->features().shape() == tl::Shape{2, 4});
}

TEST_CASE("read_csv encodes categorical feature columns", "[data][csv]") {
  auto ds = read_csv(csv_file("cat.csv", "color,w,y\nred,1,0\nblue,2,1\nred,3,0\n"),
                     {.target = "y", .categorical = {"color"}});
  CHECK(ds->categories("color") == std::vector<std::string>{"blue", "red"});
  CHECK(ds->features().to_vector<float>() == std::vector<float>{1, 1, 0, 2, 1, 3});
}

TEST_CASE("BOM, CRLF, lone CR, quotes, blank lines and a missing final newline read the same table",
          "[data][csv]") {
  const std::string plain = "name,x,label\nab,1,p\ncd,2,q\n";
  const std::vector<std::string> variants = {
      "\xEF\xBB\xBFname,x,label\nab,1,p\ncd,2,q\n",       // BOM
      "name,x,label\r\nab,1,p\r\ncd,2,q\r\n",               // CRLF
      "name,x,label\rab,1,p\rcd,2,q\r",                     // lone CR
      "name,x,label\nab,1,p\ncd,2,q",                       // no final newline
      "name,x,label\nab,1,p\ncd,2,q\n\n\n\r\n",             // blank lines at the end
      "\"name\",\"x\",\"label\"\n\"ab\",\"1\",p\ncd,2,\"q\"\n",  // quoted fields
  };
  CsvOptions options{.target = "label", .columns = {"x"}};
  auto ref = read_csv(csv_file("plain.csv", plain), options);
  for (size_t i = 0; i < variants.size(); ++i) {
    INFO("variant " << i);
    auto ds = read_csv(csv_file("variant.csv", variants[i]), options);
    CHECK(ds->feature_names() == ref->feature_names());
    CHECK(ds->features().to_vector<float>() == ref->features().to_vector<float>());
    CHECK(ds->targets().to_vector<int64_t>() == ref->targets().to_vector<int64_t>());
    CHECK(ds->class_names() == ref->class_names());
  }
}

TEST_CASE("quoted fields hold delimiters, doubled quotes and line breaks", "[data][csv]") {
  auto ds = read_csv(csv_file("q.csv", "x,label\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n"),
                     {.target = "label", .label_order = tl::data::LabelOrder::kFirstAppearance});
  CHECK(ds->class_names() == std::vector<std::string>{"a,b", "say \"hi\"", "two\nlines"});
  // A quoted newline does not end the record, but it does count as a line for messages.
  std::string err = csv_error("x,label\n1,\"two\nlines\"\nabc,q\n");
  CHECK(contains(err, "data.csv:4:1:"));
}

TEST_CASE("read_csv errors name file, line, column, expected and found", "[data][csv]") {
  SECTION("ragged row") {
    std::string err = csv_error("a,b,label\n1,2,x\n3,4,y\n5,6,z\n7,8,9,w\n");
    CHECK(contains(err, "data.csv:5: expected 3 fields, saw 4"));
    err = csv_error("a,b,label\n1,2\n");
    CHECK(contains(err, "data.csv:2: expected 3 fields, saw 2"));
  }
  SECTION("trailing delimiter makes one field too many") {
    CHECK(contains(csv_error("a,b,label\n1,2,x,\n"), "data.csv:2: expected 3 fields, saw 4"));
  }
  SECTION("non-numeric value in a numeric column") {
    std::string err = csv_error("price,qty,label\n1,2,x\n1,2,x\n1,2,x\n1,2,x\n1,2,x\nabc,2,x\n");
    CHECK(contains(err, "data.csv:7:1: column 'price': expected a number, found 'abc'"));
    err = csv_error("price,qty,label\n1,2x,y\n");
    CHECK(contains(err, "data.csv:2:3: column 'qty': expected a number, found '2x'"));
  }
  SECTION("empty cell is an error by default and NaN on request") {
    std::string err = csv_error("a,b,label\n1,,x\n");
    CHECK(contains(err, "data.csv:2:3: column 'b': empty cell, expected a number"));
    CHECK(contains(err, "MissingPolicy::kNaN"));
    auto ds = read_csv(csv_file("nan.csv", "a,b,label\n1,,x\n"),
                       {.target = "label", .missing = tl::data::MissingPolicy::kNaN});
    CHECK(std::isnan(ds->features().to_vector<float>()[1]));
  }
  SECTION("overflow") {
    CHECK(contains(csv_error("a,label\n1e400,x\n"), "data.csv:2:1: column 'a': '1e400' overflows float32"));
    CHECK(contains(csv_error("a,label\n2,x\n-1e39,x\n"), "data.csv:3:1: column 'a': '-1e39' overflows float32"));
  }
  SECTION("unterminated quote names the line where it opened") {
    std::string err = csv_error("a,label\n1,x\n2,\"open\n3,y\n4,z\n");
    CHECK(contains(err, "data.csv:3:3: unterminated quoted field"));
    CHECK(contains(err, "line 6"));
  }
  SECTION("text after a closing quote") {
    CHECK(contains(csv_error("a,label\n1,\"x\"y\n"), "data.csv:2:6: expected a delimiter or the end of the line"));
  }
  SECTION("empty file and header only") {
    CHECK(contains(csv_error(""), "data.csv: empty file, expected a header row"));
    CHECK(contains(csv_error("\xEF\xBB\xBF\n\n"), "data.csv: empty file, expected a header row"));
    CHECK(contains(csv_error("a,b,label\n"), "data.csv:1: header only, expected at least one data row"));
    CHECK(contains(csv_error("a,b,label"), "data.csv:1: header only"));
  }
  SECTION("invalid UTF-8 and NUL bytes give line and byte offset") {
    CHECK(contains(csv_error("a,label\n1,x\n2,\xff\n"), "data.csv:3: invalid UTF-8"));
    CHECK(contains(csv_error("a,label\n1,x\n2,\xff\n"), "at byte offset 14"));
    CHECK(contains(csv_error(std::string("a,label\n1,x\0y\n", 14)), "data.csv:2: NUL byte at byte offset 11"));
    CHECK(contains(csv_error("a,label\n1,\xc3\n"), "data.csv:2: invalid UTF-8"));
    // Valid multi-byte UTF-8 is fine.
    auto ds = read_csv(csv_file("utf8.csv", "a,label\n1,caf\xc3\xa9\n"), {.target = "label"});
    CHECK(ds->class_names() == std::vector<std::string>{"caf\xc3\xa9"});
  }
  SECTION("field longer than max_field_bytes") {
    CsvOptions options{.target = "label", .max_field_bytes = 8};
    CHECK(contains(csv_error("a,label\n1,123456789\n", options), "data.csv:2:3: field longer than max_field_bytes (8"));
    CHECK(contains(csv_error("a,label\n1,\"123456789\"\n", options), "data.csv:2:3: field longer than max_field_bytes"));
    CHECK(contains(csv_error("a,label\n1,\"12\"\"34\"\"56\"\"78\"\n", options), "field longer than max_field_bytes"));
  }
  SECTION("unknown target or column") {
    CHECK(contains(csv_error("a,b\n1,2\n", {.target = "label"}), "data.csv:1: target column 'label' is not in the header"));
    CHECK(contains(csv_error("a,b\n1,2\n", {.target = "b", .columns = {"z"}}), "column 'z' is not in the header"));
  }
  SECTION("header problems") {
    CHECK(contains(csv_error("a,a,label\n1,2,x\n"), "data.csv:1:3: header: duplicate column name 'a'"));
    CHECK(contains(csv_error("a,,label\n1,2,x\n"), "data.csv:1:3: header: column 2 has an empty name"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(read_csv("/nonexistent/dir/x.csv"), Catch::Contains("/nonexistent/dir/x.csv: cannot open"));
  }
  SECTION("messages carry the caller's site") {
    CHECK(contains(csv_error("a,b,label\n1,2\n"), "csv_reader_test.cpp"));
  }
}

TEST_CASE("random byte mutations of a valid CSV only ever parse or throw IoError", "[data][csv][fuzz]") {
  const std::string valid =
      "sepal,petal,\"name, quoted\",label\r\n5.1,3.5,\"a \"\"b\"\"\",setosa\n4.9,3.0,x,versicolor\n"
      "\"6.2\",-1e3,\"multi\nline\",virginica\n7,8,9,setosa";
  std::mt19937 rng(12345);
  const char alphabet[] = {',', '"', '\n', '\r', '\0', '\xff', '\xc3', '\xa9', 'e', '-', '.', '1', ' ', 'a'};
  int parsed = 0, rejected = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string s = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (s.size() + 1);
      switch (rng() % 4) {
        case 0: if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256); break;
        case 1: if (pos < s.size()) s[pos] = alphabet[rng() % sizeof alphabet]; break;
        case 2: s.insert(pos, 1, alphabet[rng() % sizeof alphabet]); break;
        case 3: if (pos < s.size()) s.erase(pos, 1 + rng() % 3); break;
      }
    }
    if (rng() % 10 == 0) s.resize(rng() % (s.size() + 1));
    CsvOptions options{.target = rng() % 2 ? "label" : "", .columns = {}, .max_field_bytes = 64};
    options.categorical = rng() % 2 ? std::vector<std::string>{"name, quoted"} : std::vector<std::string>{};
    try {
      auto ds = tl::data::parse_csv(s, options, "fuzz.csv");
      REQUIRE(ds->features().size(0) == ds->size());
      if (ds->targets().defined()) REQUIRE(ds->targets().size(0) == ds->size());
      ++parsed;
    } catch (const tl::IoError&) {
      ++rejected;
    }
  }
  CHECK(tl::data::parse_csv(valid, {.target = "label", .categorical = {"name, quoted"}})->size() == 4);
  // Both outcomes occur, so the mutations exercise the happy path and the error paths.
  CHECK(parsed > 50);
  CHECK(rejected > 50);
}

TEST_CASE("the bundled data sets load with the documented shapes", "[data][csv]") {
  auto iris = read_csv(std::string(TL_DATA_DIR) + "/iris.csv", {.target = "species"});
  CHECK(iris->features().shape() == tl::Shape{150, 4});
  CHECK(iris->num_classes() == 3);
  auto wine = read_csv(std::string(TL_DATA_DIR) + "/wine.csv", {.target = "cultivar"});
  CHECK(wine->features().shape() == tl::Shape{178, 13});
  auto digits = read_csv(std::string(TL_DATA_DIR) + "/digits.csv",
                         {.target = "digit", .target_kind = tl::data::TargetKind::kClasses});
  CHECK(digits->features().shape() == tl::Shape{1797, 64});
  CHECK(digits->num_classes() == 10);
  CHECK(digits->class_names()[7] == "7");
  auto cancer = read_csv(std::string(TL_DATA_DIR) + "/breast_cancer.csv", {.target = "diagnosis"});
  CHECK(cancer->features().shape() == tl::Shape{569, 30});
  CHECK(cancer->num_classes() == 2);
  auto diabetes = read_csv(std::string(TL_DATA_DIR) + "/diabetes.csv", {.target = "progression"});
  CHECK(diabetes->features().shape() == tl::Shape{442, 10});
  CHECK(diabetes->targets().dtype() == tl::kFloat32);  // a numeric target: regression
  CHECK(diabetes->targets().shape() == tl::Shape{442});
}

// ---- what is not a CSV file, and files too big for memory

namespace {

// Peak resident memory of this process so far (VmHWM), in bytes.
int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// The IoError message of read_csv(path, options) in a child process with its peak memory
// growth, as "<growth bytes>\n<message>" written to `report`.
void csv_child_report() {
  const char* path = std::getenv("TL_CSV_PATH");
  const char* report = std::getenv("TL_CSV_REPORT");
  REQUIRE(path);
  REQUIRE(report);
  // Reset the high-water mark where the kernel allows it, so only this read counts.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  int64_t before = peak_rss_bytes();
  std::string message = "(no error)";
  try {
    read_csv(path);
  } catch (const tl::IoError& e) {
    message = e.what();
  }
  std::ofstream(report) << peak_rss_bytes() - before << "\n" << message;
}

struct ChildRead {
  int64_t growth = -1;
  std::string message;
};

// Reads `path` with read_csv in a child process; returns its peak memory growth and error.
ChildRead read_in_child(const std::string& path) {
  std::string report = path + ".report";
  pid_t child = tl::testing::spawn_self("child: read a CSV file and report memory",
                                        {"TL_CSV_PATH=" + path, "TL_CSV_REPORT=" + report});
  REQUIRE(tl::testing::wait_for_child(child) == 0);
  std::ifstream in(report);
  ChildRead out;
  in >> out.growth;
  in.get();
  std::getline(in, out.message, '\0');
  return out;
}

}  // namespace

TEST_CASE("child: read a CSV file and report memory", "[.][data_child_csv]") { csv_child_report(); }

TEST_CASE("read_csv on a directory, FIFO or device is an IoError naming the path, without blocking",
          "[data][csv]") {
  auto dir = std::filesystem::temp_directory_path() / ("tl_data_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "a_folder.csv");
  CHECK_THROWS_WITH(read_csv((dir / "a_folder.csv").string()),
                    Catch::Contains((dir / "a_folder.csv").string() + ": is a directory, expected a CSV file"));
  CHECK_THROWS_WITH(read_csv("/dev/null"), Catch::Contains("/dev/null: is a device"));
  // A FIFO nobody writes: open() would wait for a writer forever. If read_csv blocks, the
  // test opens the writing end after 10 s so that it returns, and fails.
  std::string fifo = (dir / "pipe.csv").string();
  std::filesystem::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  auto done = std::async(std::launch::async, [&]() -> std::string {
    try {
      read_csv(fifo);
    } catch (const tl::IoError& e) {
      return e.what();
    }
    return "(no error)";
  });
  bool blocked = done.wait_for(std::chrono::seconds(10)) != std::future_status::ready;
  if (blocked) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  std::string message = done.get();
  CHECK_FALSE(blocked);
  CHECK_THAT(message, Catch::Contains(fifo + ": is a FIFO, expected a regular CSV file"));
}

TEST_CASE("a file larger than memory is refused naming its path and size, not std::bad_alloc", "[data][csv]") {
  // A sparse file: as large as memory plus 1 GiB, holding no disk blocks.
  const uint64_t memory = uint64_t(::sysconf(_SC_PHYS_PAGES)) * uint64_t(::sysconf(_SC_PAGE_SIZE));
  const uint64_t size = memory + (uint64_t{1} << 30);
  std::string path = csv_file("huge.csv", "a,b\n1,2\n");
  REQUIRE(::truncate(path.c_str(), off_t(size)) == 0);
  std::string message;
  try {
    read_csv(path);
  } catch (const tl::IoError& e) {
    message = e.what();
  }
  std::filesystem::remove(path);
  CHECK_THAT(message, Catch::Contains(path + ": the file holds " + std::to_string(size) + " bytes") &&
                          Catch::Contains("more than this machine's memory"));
}

TEST_CASE("a row or header with millions of fields is refused with peak memory bounded by the file size",
          "[data][csv][memory]") {
  // A header of three columns and one row of 10 million one-digit fields (20 MB): kept as
  // 32-byte field records it took 16 times the file; checked against the header's count as
  // it is split, it costs nothing beyond the file itself.
  const size_t kFields = 10'000'000;
  std::string row;
  row.reserve(kFields * 2 + 8);
  for (size_t i = 0; i < kFields; ++i) row += i ? ",1" : "1";
  std::string path = csv_file("wide_row.csv", "a,b,c\n" + row + "\n");
  const auto bytes = int64_t(std::filesystem::file_size(path));
  ChildRead got = read_in_child(path);
  CHECK_THAT(got.message, Catch::Contains("wide_row.csv:2: expected 3 fields, saw " + std::to_string(kFields)));
  CHECK(got.growth >= 0);
  CHECK(got.growth < 3 * bytes);
  WARN("row of " << kFields << " fields: file " << bytes << " bytes, peak memory growth " << got.growth << " bytes");

  // A header of 3 million names: refused at CsvOptions::max_columns (1,000,000).
  std::string header;
  header.reserve(3'000'000 * 22);
  for (size_t i = 0; i < 3'000'000; ++i) header += (i ? ",feature_" : "feature_") + std::to_string(i) + "_value";
  std::filesystem::remove(path);
  path = csv_file("wide_header.csv", header + "\n" + "1\n");
  const auto header_bytes = int64_t(std::filesystem::file_size(path));
  got = read_in_child(path);
  CHECK_THAT(got.message, Catch::Contains("wide_header.csv:1: header has more than max_columns (1000000) columns"));
  CHECK(got.growth < 3 * header_bytes);
  WARN("header of 3000000 names: file " << header_bytes << " bytes, peak memory growth " << got.growth << " bytes");
  std::filesystem::remove(path);

  // Within max_columns, a wide table still reads.
  CsvOptions narrow;
  narrow.max_columns = 2;
  CHECK_THROWS_WITH(read_csv(csv_file("three.csv", "a,b,c\n1,2,3\n"), narrow),
                    Catch::Contains("header has more than max_columns (2) columns"));
  narrow.max_columns = 3;
  CHECK(read_csv(csv_file("three.csv", "a,b,c\n1,2,3\n"), narrow)->features().shape() == tl::Shape{1, 3});
}
