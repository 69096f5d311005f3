#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "runtime/base/file_io.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/spawn_self.h"
#include "tl/io.h"
#include "tl/ops.h"

using namespace tl;
namespace fs = std::filesystem;

namespace {

struct ScratchDir : tl::testing::ScratchDir {
  ScratchDir() : tl::testing::ScratchDir("tl_npy_test") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file with the given header dict text and data bytes (version 1.0 unless `major` says).
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  for (size_t b = 0; b < prefix - 8; ++b) out += static_cast<char>((header.size() >> (8 * b)) & 0xff);
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string load_error(const std::string& path) {
  try {
    load_npy(path);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no error)";
}

bool python_has_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0;
  return ok;
}

}  // namespace

TEST_CASE("npy round trips every supported dtype bit for bit", "[io][npy]") {
  ScratchDir dir;
  std::vector<Tensor> tensors = {
      from_vector<float>({1.5f, -2.25f, 3.0f, NAN, INFINITY, 0.0f}, {2, 3}),
      from_vector<double>({1e-300, -7.0, 3.141592653589793}, {3}),
      from_vector<float>({0.5f, -1.0f, 65504.0f, 1e-3f}, {2, 2}).to(kFloat16),
      from_vector<int32_t>({-2147483647 - 1, 0, 2147483647, 5}, {1, 4}),
      from_vector<int64_t>({INT64_MIN, -1, INT64_MAX}, {3, 1}),
      from_vector<bool>({true, false, false, true, true, false}, {3, 2}),
      scalar_tensor(42.0, {.dtype = kFloat64}),
      zeros({0, 5}, {.dtype = kInt32}),
      arange(2 * 3 * 4 * 5, {.dtype = kFloat32}).reshape({2, 3, 4, 5}),
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor " << i << " " << tensors[i].shape().str() << " " << dtype_name(tensors[i].dtype()));
    std::string path = dir.file("t" + std::to_string(i) + ".npy");
    save_npy(path, tensors[i]);
    Tensor back = load_npy(path);
    CHECK(back.shape() == tensors[i].shape());
    CHECK(back.dtype() == tensors[i].dtype());
    CHECK(back.is_contiguous());
    CHECK(equal(back, tensors[i]));
  }
  CHECK(dir.entries().size() == tensors.size());  // no temporaries left behind
}

TEST_CASE("npy saves a non-contiguous view as its logical C-order values", "[io][npy]") {
  ScratchDir dir;
  Tensor base = arange(24, {.dtype = kFloat64}).reshape({2, 3, 4});
  Tensor view = base.permute({2, 0, 1}).slice(0, 1, 4, 2);  // [2, 2, 3], strided
  REQUIRE_FALSE(view.is_contiguous());
  save_npy(dir.file("v.npy"), view);
  Tensor back = load_npy(dir.file("v.npy"));
  CHECK(back.shape() == Shape{2, 2, 3});
  CHECK(equal(back, view.contiguous()));
  Tensor g = from_vector<float>({1, 2}).requires_grad_();
  save_npy(dir.file("g.npy"), g * 2.0);
  CHECK(load_npy(dir.file("g.npy")).to_vector<float>() == std::vector<float>{2, 4});
}

TEST_CASE("npy writes a version 1.0 header padded to 64 bytes", "[io][npy]") {
  ScratchDir dir;
  save_npy(dir.file("h.npy"), zeros({2, 3}));
  std::string bytes = read_bytes(dir.file("h.npy"));
  // 10-byte prefix + 59-byte dict + padding + '\n' = 128 bytes, then 6 floats.
  REQUIRE(bytes.size() == 128 + 24);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK(header_len == 118);
  CHECK(bytes.substr(10, 118) ==
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n");
  save_npy(dir.file("one.npy"), zeros({5}, {.dtype = kBool}));
  CHECK_THAT(read_bytes(dir.file("one.npy")), Catch::Contains("'descr': '|b1'") && Catch::Contains("'shape': (5,)"));
  save_npy(dir.file("scalar.npy"), scalar_tensor(1, {.dtype = kInt64}));
  CHECK_THAT(read_bytes(dir.file("scalar.npy")), Catch::Contains("'descr': '<i8'") && Catch::Contains("'shape': ()"));
}

TEST_CASE("npy refuses bfloat16 and undefined tensors without creating a file", "[io][npy]") {
  ScratchDir dir;
  CHECK_THROWS_WITH(save_npy(dir.file("b.npy"), zeros({2}, {.dtype = kBFloat16})),
                    Catch::Contains("bfloat16") && Catch::Contains("b.npy"));
  CHECK_THROWS_AS(save_npy(dir.file("u.npy"), Tensor()), ValueError);
  CHECK(dir.entries().size() == 0);
}

TEST_CASE("npy reads format versions 2.0 and 3.0 and Fortran order", "[io][npy]") {
  ScratchDir dir;
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  for (int major : {2, 3}) {
    write_bytes(dir.file("v.npy"), make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw(values), major));
    CHECK(load_npy(dir.file("v.npy")).to_vector<float>() == values);
  }
  // Column-major [[1, 2, 3], [4, 5, 6]] is stored as 1, 4, 2, 5, 3, 6.
  write_bytes(dir.file("f.npy"), make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                          raw(std::vector<float>{1, 4, 2, 5, 3, 6})));
  Tensor f = load_npy(dir.file("f.npy"));
  CHECK(f.shape() == Shape{2, 3});
  CHECK(f.is_contiguous());
  CHECK(f.to_vector<float>() == values);
  // Keys in another order, double quotes, no trailing comma, Python 2 long dims.
  write_bytes(dir.file("o.npy"), make_npy("{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"<i8\"}",
                                          raw(std::vector<int64_t>{7, 8, 9})));
  CHECK(load_npy(dir.file("o.npy")).to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9});
  // Bool bytes other than 0 and 1 read as true.
  write_bytes(dir.file("b.npy"), make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x02\x01", 3)));
  CHECK(load_npy(dir.file("b.npy")).to_vector<bool>() == std::vector<bool>{false, true, true});
}

TEST_CASE("npy rejects malformed files with the path, the offset and what was expected", "[io][npy]") {
  ScratchDir dir;
  std::string p = dir.file("bad.npy");
  std::string data6 = raw(std::vector<float>{1, 2, 3, 4, 5, 6});
  std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  struct Case {
    const char* what;
    std::string bytes;
    std::vector<std::string> expected;
  };
  std::string huge_len = make_npy(good_dict, data6);
  huge_len[8] = '\xff';
  huge_len[9] = '\xff';
  std::string big_v2 = make_npy(good_dict, data6, 2);
  big_v2[8] = big_v2[9] = big_v2[10] = '\0';
  big_v2[11] = '\x40';  // 1 GiB header length
  std::vector<Case> cases = {
      {"bad magic", "\x93NUMPX" + make_npy(good_dict, data6).substr(6), {"byte 0", "bad magic", "NUMPX"}},
      {"not npy at all", "hello world, this is plain text", {"byte 0", "bad magic"}},
      {"version 4.0", [&] { auto s = make_npy(good_dict, data6); s[6] = 4; return s; }(), {"byte 6", "version 4.0"}},
      {"header past the end", huge_len, {"byte 8", "header length 65535", "file ends at byte"}},
      {"header length 1 GiB", big_v2, {"byte 8", "header length 1073741824"}},
      {"header over the cap", make_npy(good_dict + std::string(70000, ' '), data6, 2), {"byte 8", "exceeds the limit of 65536"}},
      {"missing shape", make_npy("{'descr': '<f4', 'fortran_order': False, }", data6), {"no 'shape' key"}},
      {"extra key", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", data6), {"unexpected key 'x'"}},
      {"not a dict", make_npy("['descr', '<f4']", data6), {"byte 10", "expected '{'"}},
      {"unterminated", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", data6), {"expected ',' or '}'"}},
      {"uint8", make_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (6,), }", "abcdef"), {"unsupported dtype '|u1'", "'<f4'"}},
      {"big endian", make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data6), {"big-endian"}},
      {"structured", make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", data6), {"structured"}},
      {"negative dim", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", data6), {"negative dimension"}},
      {"int shape", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", data6), {"not a tuple"}},
      {"dim overflow", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data6), {"does not fit in int64"}},
      {"numel overflow", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data6), {"overflows int64"}},
      {"byte overflow", make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", data6), {"overflows 64 bits"}},
      {"rank 9", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 6), }", data6), {"more than 8 dims"}},
      {"short data", make_npy(good_dict, data6.substr(0, 20)), {"truncated", "needs bytes [128, 152)", "file ends at byte 148"}},
      {"long data", make_npy(good_dict, data6 + "xyz"), {"3 unexpected bytes after the data", "byte 152"}},
      {"huge shape, tiny file", make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", data6), {"truncated", "file ends at byte 152"}},
      {"bad bool", make_npy("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3), }", data6), {"expected True or False"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    write_bytes(p, c.bytes);
    std::string msg = load_error(p);
    CHECK_THAT(msg, Catch::Contains("tl::load_npy") && Catch::Contains(p) && Catch::Contains("npy_test.cpp"));
    for (const auto& e : c.expected) CHECK_THAT(msg, Catch::Contains(e));
  }
  CHECK_THAT(load_error(dir.file("missing.npy")), Catch::Contains("cannot open") && Catch::Contains("missing.npy"));
  CHECK_THAT(load_error(dir.path.string()), Catch::Contains("not a regular file"));
}

TEST_CASE("every truncated prefix of an npy file is rejected with IoError", "[io][npy]") {
  ScratchDir dir;
  for (Tensor t : {from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}), from_vector<bool>({true}, {1})}) {
    save_npy(dir.file("full.npy"), t);
    std::string bytes = read_bytes(dir.file("full.npy"));
    std::string p = dir.file("cut.npy");
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO("prefix of " << n << " of " << bytes.size() << " bytes");
      write_bytes(p, bytes.substr(0, n));
      std::string msg = load_error(p);
      CHECK_THAT(msg, Catch::Contains("cut.npy") && Catch::Contains("byte "));
    }
    write_bytes(p, bytes);
    CHECK(equal(load_npy(p), t));
  }
}

TEST_CASE("flipping any bit of an npy header never crashes the loader", "[io][npy]") {
  ScratchDir dir;
  Tensor t = from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  save_npy(dir.file("full.npy"), t);
  std::string bytes = read_bytes(dir.file("full.npy"));
  std::string p = dir.file("flip.npy");
  size_t loaded = 0, rejected = 0;
  for (size_t i = 0; i < 128; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      write_bytes(p, flipped);
      try {
        Tensor back = load_npy(p);
        ++loaded;
        // Whatever loads must account for every data byte.
        CHECK(static_cast<size_t>(back.nbytes()) == bytes.size() - 128);
      } catch (const IoError& e) {
        ++rejected;
      } catch (const std::exception& e) {
        FAIL("byte " << i << " bit " << bit << ": unexpected exception type: " << e.what());
      }
    }
  }
  CHECK(rejected > 600);  // nearly every flip breaks the magic, the length or the dict
  CHECK(loaded + rejected == 1024);
}

TEST_CASE("npy save replaces a file atomically and leaves it intact on failure", "[io][npy]") {
  ScratchDir dir;
  std::string p = dir.file("w.npy");
  save_npy(p, from_vector<float>({1, 2}));
  save_npy(p, from_vector<int64_t>({7, 8, 9}));
  CHECK(load_npy(p).to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9});
  CHECK(dir.entries().size() == 1);

  CHECK_THROWS_WITH(save_npy(dir.file("no/such/dir/x.npy"), zeros({2})),
                    Catch::Contains("x.npy") && Catch::Contains("No such file or directory"));
  fs::create_directory(dir.path / "sub");
  CHECK_THROWS_WITH(save_npy((dir.path / "sub").string(), zeros({2})), Catch::Contains("is a directory"));
  fs::create_symlink(p, dir.path / "link.npy");
  CHECK_THROWS_WITH(save_npy(dir.file("link.npy"), zeros({2})), Catch::Contains("symbolic link"));
  CHECK(load_npy(p).to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9});
  CHECK(dir.entries().size() == 3);  // w.npy, sub, link.npy: no temporaries

  // A write that fails midway (file size limit, like a full disk) in a child process.
  std::string before = read_bytes(p);
  Tensor big = zeros({1 << 16}, {.dtype = kFloat64});  // 512 KiB, contiguous: no kernels run in the child
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {100000, 100000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int code = 3;
    try {
      save_npy(p, big);
      code = 1;
    } catch (const IoError& e) {
      code = std::string(e.what()).find("write failed after") != std::string::npos ? 0 : 2;
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_bytes(p) == before);
  CHECK(dir.entries().size() == 3);
}

TEST_CASE("an npy save failing with ENOSPC or EIO at any I/O call leaves the previous file and no temporary",
          "[io][npy][reliability]") {
  ScratchDir dir;
  const std::string p = dir.file("w.npy");
  save_npy(p, from_vector<float>({1, 2, 3}));
  const std::string old_bytes = read_bytes(p);
  const Tensor next = from_vector<int64_t>({7, 8, 9, 10});

  detail::file_io_fail_at(0, 0);
  save_npy(dir.file("probe.npy"), next);
  const uint64_t calls = detail::file_io_calls();
  const std::string new_bytes = read_bytes(dir.file("probe.npy"));
  fs::remove(dir.file("probe.npy"));
  // open, write the preamble, write the data, fsync, close, rename, open the folder, fsync it
  REQUIRE(calls == 8);

  size_t tried = 0;
  for (int error : {ENOSPC, EIO}) {
    for (uint64_t k = 1; k <= calls; ++k) {
      detail::file_io_fail_at(k, error);
      std::string err;
      try {
        save_npy(p, next);
      } catch (const IoError& e) {
        err = e.what();
      }
      detail::file_io_fail_at(0, 0);
      ++tried;
      INFO("call " << k << " of " << calls << " failing with " << std::strerror(error) << ": " << err);
      CHECK_THAT(err, Catch::Contains("tl::save_npy") && Catch::Contains(p) && Catch::Contains(std::strerror(error)));
      CHECK(dir.entries() == std::vector<std::string>{"w.npy"});  // no temporary
      // The last two calls sync the folder after the rename: the new file is in place, but
      // the save says it may not be durable.
      if (k >= calls - 1) {
        CHECK(read_bytes(p) == new_bytes);
        CHECK_THAT(err, Catch::Contains("was written completely"));
        write_bytes(p, old_bytes);
      } else {
        CHECK(read_bytes(p) == old_bytes);
        CHECK(load_npy(p).to_vector<float>() == std::vector<float>{1, 2, 3});
      }
      if (k == 2 || k == 3) CHECK_THAT(err, Catch::Contains("bytes needed"));
    }
  }
  CHECK(tried == 2 * calls);
}

TEST_CASE("npy files written by NumPy load here and files written here load in NumPy", "[io][npy][interop]") {
  if (!python_has_numpy()) {
    WARN("skipped: /usr/bin/python3 cannot import numpy");
    return;
  }
  ScratchDir dir;
  std::string d = dir.path.string();
  std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "np.save(d + '/f4.npy', np.arange(12, dtype='<f4').reshape(3, 4) / 8)\n"
      "np.save(d + '/f8.npy', np.array([[1.5, -2.0], [1e-300, 3.25]]))\n"
      "np.save(d + '/f2.npy', np.array([0.5, -1.0, 2.0], dtype='<f2'))\n"
      "np.save(d + '/i4.npy', np.array([-3, 4, 2**31 - 1], dtype='<i4'))\n"
      "np.save(d + '/i8.npy', np.array([[-(2**62)], [5]], dtype='<i8'))\n"
      "np.save(d + '/b1.npy', np.array([True, False, True]))\n"
      "np.save(d + '/scalar.npy', np.float64(2.5))\n"
      "np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)))\n"
      "with open(d + '/v2.npy', 'wb') as f:\n"
      "    np.lib.format.write_array(f, np.arange(4, dtype='<i8'), version=(2, 0))\n";
  std::ofstream(dir.file("write.py")) << script;
  REQUIRE(std::system(("/usr/bin/python3 " + dir.file("write.py") + " " + d).c_str()) == 0);

  CHECK(load_npy(dir.file("f4.npy")).to_vector<float>() ==
        std::vector<float>{0, 0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f, 1, 1.125f, 1.25f, 1.375f});
  CHECK(load_npy(dir.file("f4.npy")).shape() == Shape{3, 4});
  CHECK(load_npy(dir.file("f8.npy")).to_vector<double>() == std::vector<double>{1.5, -2.0, 1e-300, 3.25});
  Tensor f2 = load_npy(dir.file("f2.npy"));
  CHECK(f2.dtype() == kFloat16);
  CHECK(f2.to_vector<float>() == std::vector<float>{0.5f, -1.0f, 2.0f});
  CHECK(load_npy(dir.file("i4.npy")).to_vector<int32_t>() == std::vector<int32_t>{-3, 4, 2147483647});
  Tensor i8 = load_npy(dir.file("i8.npy"));
  CHECK(i8.shape() == Shape{2, 1});
  CHECK(i8.to_vector<int64_t>() == std::vector<int64_t>{-(int64_t{1} << 62), 5});
  CHECK(load_npy(dir.file("b1.npy")).to_vector<bool>() == std::vector<bool>{true, false, true});
  Tensor s = load_npy(dir.file("scalar.npy"));
  CHECK(s.dim() == 0);
  CHECK(s.item<double>() == 2.5);
  CHECK(load_npy(dir.file("fortran.npy")).to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(load_npy(dir.file("v2.npy")).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});

  save_npy(dir.file("tl_f4.npy"), arange(6, {.dtype = kFloat32}).reshape({2, 3}).t());
  save_npy(dir.file("tl_f2.npy"), from_vector<float>({0.5f, -4.0f}).to(kFloat16));
  save_npy(dir.file("tl_i8.npy"), from_vector<int64_t>({INT64_MIN, 3}));
  save_npy(dir.file("tl_i4.npy"), from_vector<int32_t>({-1, 2}, {2, 1}));
  save_npy(dir.file("tl_f8.npy"), scalar_tensor(0.1, {.dtype = kFloat64}));
  save_npy(dir.file("tl_b1.npy"), from_vector<bool>({false, true}));
  std::string check =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "def same(name, expected):\n"
      "    a = np.load(d + '/' + name)\n"
      "    e = np.asarray(expected)\n"
      "    assert a.dtype == e.dtype and a.shape == e.shape and (a == e).all(), (name, a, e)\n"
      "same('tl_f4.npy', np.arange(6, dtype='<f4').reshape(2, 3).T)\n"
      "same('tl_f2.npy', np.array([0.5, -4.0], dtype='<f2'))\n"
      "same('tl_i8.npy', np.array([-(2**63), 3], dtype='<i8'))\n"
      "same('tl_i4.npy', np.array([[-1], [2]], dtype='<i4'))\n"
      "same('tl_f8.npy', np.float64(0.1))\n"
      "same('tl_b1.npy', np.array([False, True]))\n";
  std::ofstream(dir.file("check.py")) << check;
  CHECK(std::system(("/usr/bin/python3 " + dir.file("check.py") + " " + d).c_str()) == 0);
}

TEST_CASE("child: load_npy refuses a FIFO without blocking", "[.][npy_fifo_child]") {
  ::alarm(20);  // a blocking open ends the child with SIGALRM instead of hanging the suite
  ScratchDir dir;
  std::string fifo = dir.file("pipe.npy");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(load_npy(fifo), Catch::Contains("tl::load_npy: '" + fifo + "': it is a FIFO (named pipe), not a "
                                                    "regular file"));
  CHECK_THROWS_WITH(load_npy(dir.path.string()), Catch::Contains("it is a directory, not a regular file"));
  CHECK_THROWS_WITH(load_npy("/dev/zero"), Catch::Contains("'/dev/zero': it is a character device"));
}

TEST_CASE("load_npy refuses FIFOs and other files that are not regular at once naming the path", "[io][npy]") {
  pid_t pid = testing::spawn_self("child: load_npy refuses a FIFO without blocking", {});
  int status = testing::wait_for_child(pid);
  INFO("exit status " << status << (status == 128 + SIGALRM ? " (SIGALRM: the open blocked)" : ""));
  CHECK(status == 0);
}
