//===- InteropTest.cpp - Files exchanged with real numpy / safetensors ----===//
//
// Runs python3 with numpy (and the safetensors package, where installed) to
// write reference files that we read, and to read the files we write. Every
// test here skips, saying why, when the Python side is missing; the embedded
// reference files in the other tests still cover the formats then.
//
//===----------------------------------------------------------------------===//
#include "IoTestUtil.h"
#include "runtime/io/ArrayFile.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"

#include <algorithm>
#include <fstream>
#include <sstream>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

#define REQUIRE_PYTHON(var, module)                                                                \
  std::string var = pythonWith(module);                                                            \
  if (var.empty())                                                                                 \
  GTEST_SKIP() << "no python3 with '" module "' (install python3-numpy, or point "               \
                  "KILN_IO_TEST_PYTHON at an interpreter that has it); interop not checked"

struct ManifestEntry {
  std::string name, descr;
  std::vector<int64_t> shape;
};

std::vector<ManifestEntry> readManifest(const std::string &path) {
  std::vector<ManifestEntry> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    ManifestEntry e;
    words >> e.name >> e.descr;
    int64_t d;
    while (words >> d)
      e.shape.push_back(d);
    out.push_back(e);
  }
  return out;
}

// Numpy writes: every dtype, several shapes, .npy (versions 1.0, 2.0 and
// 3.0), .npz stored and compressed; raw bytes alongside for comparison.
const char *kNumpyWriter = R"PY(
import sys, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
cases = {}
with open(out + "/manifest.txt", "w") as manifest:
    for d in ["<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1"]:
        for shape in [(), (0,), (7,), (3, 4), (2, 3, 5), (1, 0, 2)]:
            if d == "|b1":
                a = rng.integers(0, 2, size=shape).astype(bool)
            elif d[1] == "f":
                a = rng.standard_normal(size=shape).astype(d)
            else:
                info = np.iinfo(d)
                a = rng.integers(info.min, info.max, size=shape, dtype=d, endpoint=True)
            name = d[1:] + "_" + ("x".join(map(str, shape)) or "scalar")
            np.save(out + "/" + name + ".npy", a)
            open(out + "/" + name + ".bin", "wb").write(a.tobytes())
            manifest.write("%s %s %s\n" % (name, d, " ".join(map(str, shape))))
            cases[name] = a
    # A non-contiguous view is saved as its C-order copy.
    a = np.arange(24, dtype="<i4").reshape(4, 6)[:, ::2]
    np.save(out + "/strided.npy", a)
    open(out + "/strided.bin", "wb").write(np.ascontiguousarray(a).tobytes())
    manifest.write("strided <i4 4 3\n")
    for version in [(1, 0), (2, 0), (3, 0)]:
        a = rng.standard_normal(size=(5, 2)).astype("<f4")
        name = "version%d" % version[0]
        with open(out + "/" + name + ".npy", "wb") as f:
            np.lib.format.write_array(f, a, version=version)
        open(out + "/" + name + ".bin", "wb").write(a.tobytes())
        manifest.write("%s <f4 5 2\n" % name)
np.savez(out + "/all.npz", **cases)
np.savez_compressed(out + "/all_compressed.npz", **cases)
)PY";

// Numpy reads what we wrote and compares with the raw bytes.
const char *kNumpyReader = R"PY(
import sys, numpy as np
out = sys.argv[1]
failures = []
expected = {}
for line in open(out + "/manifest.txt"):
    name, descr, *shape = line.split()
    shape = tuple(int(s) for s in shape)
    raw = open(out + "/" + name + ".bin", "rb").read()
    expected[name] = (descr, shape, raw)
    a = np.load(out + "/" + name + ".npy", allow_pickle=False)
    if a.dtype.str != descr or a.shape != shape or a.tobytes() != raw:
        failures.append("%s.npy: got %s %s" % (name, a.dtype.str, a.shape))
for archive in ["stored.npz", "deflated.npz", "zip64.npz", "deflated_zip64.npz"]:
    with np.load(out + "/" + archive, allow_pickle=False) as z:
        if sorted(z.files) != sorted(expected):
            failures.append("%s: members %s" % (archive, z.files))
        for name, (descr, shape, raw) in expected.items():
            a = z[name]
            if a.dtype.str != descr or a.shape != shape or a.tobytes() != raw:
                failures.append("%s[%s]: got %s %s" % (archive, name, a.dtype.str, a.shape))
for f in failures:
    print("numpy disagrees:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
)PY";

} // namespace

TEST(NumpyInterop, WeReadWhatNumpyWrites) {
  REQUIRE_PYTHON(python, "numpy");
  TempDir dir;
  ASSERT_EQ(runPython(python, dir, kNumpyWriter, "'" + dir.path() + "'"), 0);
  auto manifest = readManifest(dir.file("manifest.txt"));
  ASSERT_GT(manifest.size(), 70u);
  auto stored = readNpz(dir.file("all.npz"));
  ASSERT_TRUE(stored.ok()) << stored.message();
  auto deflated = readNpz(dir.file("all_compressed.npz"));
  ASSERT_TRUE(deflated.ok()) << deflated.message();
  size_t inArchives = 0;
  for (const ManifestEntry &e : manifest) {
    SCOPED_TRACE(e.name);
    auto a = readNpy(dir.file(e.name + ".npy"));
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(npyDescr(a->dtype()), e.descr);
    EXPECT_EQ(a->shape(), e.shape);
    std::vector<uint8_t> raw = readBytes(dir.file(e.name + ".bin"));
    ASSERT_EQ(raw.size(), a->byteSize());
    EXPECT_TRUE(std::equal(raw.begin(), raw.end(), a->bytes()));
    // The same bytes come back through readArrays (format sniffing).
    auto any = readArrays(dir.file(e.name + ".npy"));
    ASSERT_TRUE(any.ok()) << any.message();
    EXPECT_EQ((*any)[0].name, e.name);
    if (const Array *member = findArray(*stored, e.name)) {
      ++inArchives;
      EXPECT_TRUE(member->equals(*a));
      const Array *compressed = findArray(*deflated, e.name);
      ASSERT_NE(compressed, nullptr);
      EXPECT_TRUE(compressed->equals(*a));
    }
  }
  EXPECT_EQ(inArchives, stored->size());
}

TEST(NumpyInterop, NumpyReadsWhatWeWrite) {
  REQUIRE_PYTHON(python, "numpy");
  TempDir dir;
  ArrayList arrays;
  std::ofstream manifest(dir.file("manifest.txt"));
  int salt = 0;
  for (DType dtype : allDTypes()) {
    if (dtype == DType::BF16)
      continue;
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {0}, {5}, {3, 4}, {2, 1, 3}}) {
      std::string name = std::string(dtypeName(dtype)) + "_" + std::to_string(salt);
      Array a = patternArray(dtype, shape, salt++);
      ASSERT_TRUE(writeNpy(dir.file(name + ".npy"), a).ok());
      ASSERT_TRUE(writeBytes(dir.file(name + ".bin"),
                             std::vector<uint8_t>(a.bytes(), a.bytes() + a.byteSize())));
      manifest << name << " " << npyDescr(dtype);
      for (int64_t d : shape)
        manifest << " " << d;
      manifest << "\n";
      arrays.push_back({name, std::move(a)});
    }
  }
  manifest.close();
  NpzWriteOptions options;
  ASSERT_TRUE(writeNpz(dir.file("stored.npz"), arrays, options).ok());
  options.compress = true;
  ASSERT_TRUE(writeNpz(dir.file("deflated.npz"), arrays, options).ok());
  options.forceZip64 = true;
  ASSERT_TRUE(writeNpz(dir.file("deflated_zip64.npz"), arrays, options).ok());
  options.compress = false;
  ASSERT_TRUE(writeNpz(dir.file("zip64.npz"), arrays, options).ok());
  EXPECT_EQ(runPython(python, dir, kNumpyReader, "'" + dir.path() + "'"), 0)
      << "numpy could not read our files back (see its messages above)";
}

TEST(SafetensorsInterop, BothDirections) {
  REQUIRE_PYTHON(python, "safetensors.numpy");
  TempDir dir;
  // The reference implementation writes; we read.
  const char *writer = R"PY(
import sys, numpy as np
from safetensors.numpy import save_file
out = sys.argv[1]
rng = np.random.default_rng(1)
tensors = {}
with open(out + "/manifest.txt", "w") as manifest:
    for d in ["<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1"]:
        for shape in [(), (0,), (3,), (2, 5)]:
            if d == "|b1":
                a = rng.integers(0, 2, size=shape).astype(bool)
            elif d[1] == "f":
                a = rng.standard_normal(size=shape).astype(d)
            else:
                info = np.iinfo(d)
                a = rng.integers(info.min, info.max, size=shape, dtype=d, endpoint=True)
            name = "layer_" + d[1:] + "/" + ("x".join(map(str, shape)) or "scalar")
            tensors[name] = a
            fname = name.replace("/", "_")
            open(out + "/" + fname + ".bin", "wb").write(a.tobytes())
            manifest.write("%s %s %s\n" % (name, d, " ".join(map(str, shape))))
save_file(tensors, out + "/ref.safetensors", metadata={"framework": "numpy", "k": "v"})
)PY";
  ASSERT_EQ(runPython(python, dir, writer, "'" + dir.path() + "'"), 0);
  auto file = readSafetensors(dir.file("ref.safetensors"));
  ASSERT_TRUE(file.ok()) << file.message();
  auto manifest = readManifest(dir.file("manifest.txt"));
  ASSERT_EQ(file->tensors.size(), manifest.size());
  EXPECT_EQ(file->metadata.size(), 2u);
  for (const ManifestEntry &e : manifest) {
    SCOPED_TRACE(e.name);
    const Array *a = findArray(file->tensors, e.name);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(npyDescr(a->dtype()), e.descr);
    EXPECT_EQ(a->shape(), e.shape);
    std::string fname = e.name;
    std::replace(fname.begin(), fname.end(), '/', '_');
    std::vector<uint8_t> raw = readBytes(dir.file(fname + ".bin"));
    ASSERT_EQ(raw.size(), a->byteSize());
    EXPECT_TRUE(std::equal(raw.begin(), raw.end(), a->bytes()));
  }

  // We write; the reference implementation reads and compares.
  ASSERT_TRUE(writeSafetensors(dir.file("ours.safetensors"), file->tensors,
                               {{"framework", "kiln"}})
                  .ok());
  const char *reader = R"PY(
import sys, numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open
out = sys.argv[1]
ours = load_file(out + "/ours.safetensors")
ref = load_file(out + "/ref.safetensors")
bad = [k for k in ref if k not in ours or ours[k].dtype != ref[k].dtype
       or ours[k].shape != ref[k].shape or ours[k].tobytes() != ref[k].tobytes()]
with safe_open(out + "/ours.safetensors", framework="numpy") as f:
    if f.metadata() != {"framework": "kiln"}:
        bad.append("metadata %r" % f.metadata())
if len(ours) != len(ref):
    bad.append("%d tensors, expected %d" % (len(ours), len(ref)))
for b in bad:
    print("safetensors disagrees:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
)PY";
  EXPECT_EQ(runPython(python, dir, reader, "'" + dir.path() + "'"), 0);
}
