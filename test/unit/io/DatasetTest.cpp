//===- DatasetTest.cpp - loadDataset: formats, options, checks ------------===//
#include "runtime/io/Dataset.h"
#include "DatasetTestUtil.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"

#include <chrono>
#include <cmath>
#include <sys/stat.h>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

Expected<Dataset> load(const std::string &path, DatasetOptions o = {}) {
  return loadDataset(path, o);
}

/// An MNIST folder: `n` images and labels i % 10 with the given file names.
void writeMnist(const TempDir &dir, const std::string &images, const std::string &labels,
                uint32_t n, bool gzip) {
  Bytes l;
  for (uint32_t i = 0; i < n; ++i)
    l.push_back(uint8_t(i % 10));
  Bytes im = idxImages(n), lb = idxLabels(l);
  ASSERT_TRUE(writeBytes(dir.file(images), gzip ? gzipBytes(im) : im));
  ASSERT_TRUE(writeBytes(dir.file(labels), gzip ? gzipBytes(lb) : lb));
}

void expectMnistPixels(const Dataset &d, uint32_t n) {
  ASSERT_EQ(d.x.dtype(), DType::F32);
  ASSERT_EQ(d.x.shape(), (std::vector<int64_t>{n, 28, 28, 1}));
  ASSERT_EQ(d.y.dtype(), DType::I32);
  ASSERT_EQ(d.y.shape(), (std::vector<int64_t>{n}));
  const float *x = d.x.data<float>();
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(d.y.data<int32_t>()[i], int32_t(i % 10));
    for (uint32_t r = 0; r < 28; r += 9)
      for (uint32_t c = 0; c < 28; c += 5)
        ASSERT_FLOAT_EQ(x[(i * 28 + r) * 28 + c], float((i * 31 + r * 7 + c) % 256) / 255.0f);
  }
}

template <typename T> Array values(std::vector<int64_t> shape, std::vector<T> v) {
  return std::move(Array::fromValues<T>(std::move(shape), v)).value();
}

} // namespace

// --- MNIST ---------------------------------------------------------------------

TEST(DatasetMnist, FolderWithOfficialNamesPlainAndGzip) {
  for (bool gzip : {false, true}) {
    TempDir dir;
    std::string gz = gzip ? ".gz" : "";
    writeMnist(dir, "train-images-idx3-ubyte" + gz, "train-labels-idx1-ubyte" + gz, 12, gzip);
    writeMnist(dir, "t10k-images-idx3-ubyte" + gz, "t10k-labels-idx1-ubyte" + gz, 5, gzip);
    Expected<Dataset> train = load(dir.path());
    ASSERT_TRUE(train.ok()) << train.message();
    expectMnistPixels(*train, 12);
    EXPECT_TRUE(contains(train->description, "MNIST IDX (train)"));
    EXPECT_TRUE(contains(train->description, "scaled by 1/255"));
    DatasetOptions o;
    o.split = "test";
    Expected<Dataset> test = load(dir.path(), o);
    ASSERT_TRUE(test.ok()) << test.message();
    expectMnistPixels(*test, 5);
  }
}

TEST(DatasetMnist, UnprefixedAndDottedNames) {
  TempDir dir;
  // The names of /work/shared/data/mnist-10k (one split, no prefix).
  writeMnist(dir, "images-idx3-ubyte.gz", "labels-idx1-ubyte.gz", 7, true);
  Expected<Dataset> d = load(dir.path());
  ASSERT_TRUE(d.ok()) << d.message();
  expectMnistPixels(*d, 7);
  DatasetOptions o;
  o.split = "test";
  EXPECT_TRUE(contains(load(dir.path(), o).message(), ": no test split: the folder holds one set"));

  TempDir kaggle; // train-images.idx3-ubyte, as some mirrors spell it
  writeMnist(kaggle, "train-images.idx3-ubyte", "train-labels.idx1-ubyte", 3, false);
  Expected<Dataset> k = load(kaggle.path());
  ASSERT_TRUE(k.ok()) << k.message();
  expectMnistPixels(*k, 3);
}

TEST(DatasetMnist, FilePairsAndSingleFiles) {
  TempDir dir;
  writeMnist(dir, "imgs.gz", "labs", 4, false);
  ASSERT_TRUE(writeBytes(dir.file("imgs.gz"), gzipBytes(readBytes(dir.file("imgs.gz")))));
  for (std::string path : {dir.file("imgs.gz") + "," + dir.file("labs"),
                           dir.file("labs") + "," + dir.file("imgs.gz")}) {
    Expected<Dataset> d = load(path);
    ASSERT_TRUE(d.ok()) << d.message();
    expectMnistPixels(*d, 4);
  }
  // One file of a pair named in the official way finds the other.
  writeMnist(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", 6, false);
  ASSERT_TRUE(writeBytes(dir.file("train-images-idx3-ubyte.gz"),
                         gzipBytes(readBytes(dir.file("train-images-idx3-ubyte.gz")))));
  for (const char *name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"}) {
    Expected<Dataset> d = load(dir.file(name));
    ASSERT_TRUE(d.ok()) << d.message();
    expectMnistPixels(*d, 6);
  }
  EXPECT_TRUE(
      contains(load(dir.file("labs")).message(), "an IDX file holds only images or only labels"));
}

TEST(DatasetMnist, Errors) {
  TempDir dir;
  writeMnist(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 10, false);
  // Count mismatch.
  ASSERT_TRUE(writeBytes(dir.file("train-labels-idx1-ubyte"), idxLabels(Bytes(9, 1))));
  EXPECT_EQ(load(dir.path()).message(),
            dir.file("train-images-idx3-ubyte") + ": count mismatch: it holds 10 images but " +
                dir.file("train-labels-idx1-ubyte") + " holds 9 labels");
  // Label out of range (> 9), unless oneHot asks for more classes.
  Bytes labels(10, 1);
  labels[7] = 12;
  ASSERT_TRUE(writeBytes(dir.file("train-labels-idx1-ubyte"), idxLabels(labels)));
  EXPECT_EQ(load(dir.path()).message(),
            dir.file("train-labels-idx1-ubyte") + ": label 12 of sample 7 is out of range 0-9");
  DatasetOptions o;
  o.oneHot = 13;
  ASSERT_TRUE(load(dir.path(), o).ok());
  o.oneHot = 12;
  EXPECT_EQ(load(dir.path(), o).message(),
            dir.file("train-labels-idx1-ubyte") +
                ": label 12 of sample 7 is out of range 0-11 (oneHot = 12 classes)");
  // Truncated gzip labels: the message of the issue.
  Bytes many = idxLabels(Bytes(60000, 1));
  many.resize(8 + 1234);
  ASSERT_TRUE(writeBytes(dir.file("train-labels-idx1-ubyte.gz"), gzipBytes(many)));
  ::remove(dir.file("train-labels-idx1-ubyte").c_str());
  EXPECT_EQ(load(dir.path()).message(),
            dir.file("train-labels-idx1-ubyte.gz") +
                ": truncated: header says 60000 labels, file holds 1234 (decompressed)");
  // A missing partner, swapped roles, bad magic.
  ::remove(dir.file("train-labels-idx1-ubyte.gz").c_str());
  EXPECT_EQ(load(dir.path()).message(),
            dir.file("train-labels-idx1-ubyte") +
                "[.gz]: missing (the folder has train-images-idx3-ubyte)");
  ASSERT_TRUE(writeBytes(dir.file("a"), idxImages(2)));
  ASSERT_TRUE(writeBytes(dir.file("b"), idxImages(2)));
  EXPECT_TRUE(contains(load(dir.file("a") + "," + dir.file("b")).message(),
                       "b: expected a labels file (1 dimension, magic 0x00000801) but it has 3"));
  ASSERT_TRUE(writeBytes(dir.file("c"), Bytes{0, 0, 8, 1, 0xff}));
  ASSERT_TRUE(writeBytes(dir.file("d"), Bytes{1, 2, 3, 4, 5}));
  EXPECT_TRUE(contains(load(dir.file("c") + "," + dir.file("d")).message(),
                       dir.file("d") + ": expected a .npy or IDX file like its partner"));
  TempDir empty;
  EXPECT_TRUE(contains(load(empty.path()).message(), empty.path() + ": no training data found"));
}

TEST(DatasetMnist, HostileCountsDoNotAllocate) {
  TempDir dir;
  // 2^32-1 images claimed by a 2 KB file, plain and gzip.
  Bytes images = idxFile(0x08, {0xffffffffu, 28, 28}, Bytes(2000, 0));
  ASSERT_TRUE(writeBytes(dir.file("train-images-idx3-ubyte"), images));
  ASSERT_TRUE(writeBytes(dir.file("train-labels-idx1-ubyte.gz"),
                         gzipBytes(idxFile(0x08, {0xffffffffu}, Bytes(10, 0)))));
  EXPECT_TRUE(
      contains(load(dir.path()).message(),
               "truncated: header says 4294967295 images of 28x28, file holds 2 and 432 bytes"));
  ASSERT_TRUE(writeBytes(dir.file("train-images-idx3-ubyte"), idxImages(1)));
  EXPECT_TRUE(contains(load(dir.path()).message(),
                       "truncated: header says 4294967295 labels, file holds 10 (decompressed)"));
}

// --- CIFAR-10 ------------------------------------------------------------------

TEST(DatasetCifar, FolderSplitsAndLayout) {
  TempDir dir;
  ASSERT_TRUE(writeBytes(dir.file("data_batch_1.bin"), cifarRecords({0, 1, 2}, 0)));
  ASSERT_TRUE(writeBytes(dir.file("data_batch_2.bin"), cifarRecords({3, 4}, 3)));
  ASSERT_TRUE(writeBytes(dir.file("test_batch.bin"), cifarRecords({9}, 100)));
  Expected<Dataset> d = load(dir.path());
  ASSERT_TRUE(d.ok()) << d.message();
  ASSERT_EQ(d->x.shape(), (std::vector<int64_t>{5, 32, 32, 3}));
  ASSERT_EQ(d->y.shape(), (std::vector<int64_t>{5}));
  const float *x = d->x.data<float>();
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(d->y.data<int32_t>()[i], int32_t(i));
    for (size_t y = 0; y < 32; y += 7)
      for (size_t xx = 0; xx < 32; xx += 3)
        for (size_t c = 0; c < 3; ++c)
          ASSERT_FLOAT_EQ(x[((i * 32 + y) * 32 + xx) * 3 + c], cifarPixel(i, y, xx, c) / 255.0f);
  }
  EXPECT_TRUE(contains(d->description, "CIFAR-10 (train)"));
  DatasetOptions o;
  o.split = "test";
  Expected<Dataset> t = load(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->y.data<int32_t>()[0], 9);
  EXPECT_FLOAT_EQ(t->x.data<float>()[5], cifarPixel(100, 0, 1, 2) / 255.0f);
  // limit across batches
  o.split = "";
  o.limit = 4;
  Expected<Dataset> l = load(dir.path(), o);
  ASSERT_TRUE(l.ok()) << l.message();
  EXPECT_EQ(l->x.shape()[0], 4);
  EXPECT_EQ(l->y.data<int32_t>()[3], 3);
  EXPECT_TRUE(contains(l->description, "4 samples (first 4 of 5)"));
}

TEST(DatasetCifar, SubfolderSingleFileAndErrors) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.file("cifar-10-batches-bin").c_str(), 0755), 0);
  std::string sub = dir.file("cifar-10-batches-bin");
  ASSERT_TRUE(writeBytes(sub + "/data_batch_1.bin", cifarRecords({5, 6})));
  Expected<Dataset> d = load(dir.path());
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->y.data<int32_t>()[1], 6);
  Expected<Dataset> single = load(sub + "/data_batch_1.bin");
  ASSERT_TRUE(single.ok()) << single.message();
  EXPECT_TRUE(single->x.equals(d->x));
  // A gap in the batch numbers.
  ASSERT_TRUE(writeBytes(sub + "/data_batch_3.bin", cifarRecords({1})));
  EXPECT_EQ(load(sub).message(), sub + "/data_batch_2.bin: missing (data_batch_3.bin exists)");
  ::remove((sub + "/data_batch_3.bin").c_str());
  DatasetOptions o;
  o.split = "test";
  EXPECT_EQ(load(sub, o).message(), sub + "/test_batch.bin: missing (split 'test')");
  // A bad label and a truncated batch name the file.
  Bytes bad = cifarRecords({1, 2});
  bad[3073] = 200;
  ASSERT_TRUE(writeBytes(sub + "/data_batch_1.bin", bad));
  EXPECT_TRUE(contains(load(sub).message(),
                       sub + "/data_batch_1.bin: record 1 (byte offset 3073): label 200"));
  bad.resize(4000);
  ASSERT_TRUE(writeBytes(sub + "/data_batch_1.bin", bad));
  EXPECT_TRUE(contains(load(sub).message(), sub + "/data_batch_1.bin: truncated: 4000 bytes"));
}

// --- .npz / .npy ---------------------------------------------------------------

TEST(DatasetNpz, ArraysAndSplits) {
  TempDir dir;
  Array xtr = values<uint8_t>({2, 2}, {0, 255, 10, 20});
  Array ytr = values<int64_t>({2}, {1, 0});
  Array xte = values<float>({1, 2}, {0.5f, 1.5f});
  Array yte = values<uint8_t>({1, 1}, {7});
  ASSERT_TRUE(writeNpz(dir.file("d.npz"),
                       {{"x_train", xtr}, {"y_train", ytr}, {"x_test", xte}, {"y_test", yte}})
                  .ok());
  Expected<Dataset> d = load(dir.file("d.npz"));
  ASSERT_TRUE(d.ok()) << d.message();
  // Default scale for .npz is 1, whatever the dtype.
  EXPECT_EQ(d->x.data<float>()[1], 255.0f);
  EXPECT_EQ(d->y.dtype(), DType::I32);
  EXPECT_EQ(d->y.data<int32_t>()[0], 1);
  DatasetOptions o;
  o.split = "test";
  Expected<Dataset> t = load(dir.file("d.npz"), o);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->x.data<float>()[1], 1.5f);
  EXPECT_EQ(t->y.shape(), (std::vector<int64_t>{1})); // [N, 1] integer ids squeezed
  EXPECT_EQ(t->y.data<int32_t>()[0], 7);

  ASSERT_TRUE(writeNpz(dir.file("xy.npz"), {{"x", xte}, {"y", yte}}).ok());
  ASSERT_TRUE(load(dir.file("xy.npz")).ok());
  EXPECT_EQ(load(dir.file("xy.npz"), o).message(),
            dir.file("xy.npz") +
                ": no arrays 'x_test' and 'y_test' (split 'test'); it holds 'x', 'y'");
  ASSERT_TRUE(writeNpz(dir.file("half.npz"), {{"x", xte}}).ok());
  EXPECT_EQ(load(dir.file("half.npz")).message(),
            dir.file("half.npz") + ": array 'y' is missing (the archive has 'x')");
}

TEST(DatasetNpy, PairLabelsAndValueChecks) {
  TempDir dir;
  std::string x = dir.file("x.npy"), y = dir.file("y.npy"), pair = x + "," + y;
  ASSERT_TRUE(writeNpy(x, values<double>({3, 2}, {1, 2, 3, 4, 5, 6})).ok());
  ASSERT_TRUE(writeNpy(y, values<float>({3}, {0.5f, 1, 2})).ok());
  Expected<Dataset> d = load(pair);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->x.data<float>()[5], 6.0f);
  ASSERT_EQ(d->y.dtype(), DType::F32); // float labels: regression targets [N, 1]
  EXPECT_EQ(d->y.shape(), (std::vector<int64_t>{3, 1}));
  DatasetOptions o;
  o.oneHot = 3;
  EXPECT_EQ(load(pair, o).message(),
            y + ": label 0.500000 of sample 0 is not a whole number (oneHot needs class ids)");

  // Float whole-number labels with oneHot; one-hot rows.
  ASSERT_TRUE(writeNpy(y, values<float>({3}, {2, 0, 1})).ok());
  Expected<Dataset> h = load(pair, o);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->y.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(std::vector<float>(h->y.data<float>(), h->y.data<float>() + 9),
            (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0}));

  // Rows of k floats are kept; oneHot on them is an error.
  ASSERT_TRUE(writeNpy(y, values<float>({3, 2}, {1, 0, 0, 1, 1, 0})).ok());
  EXPECT_EQ(load(pair)->y.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(contains(load(pair, o).message(), "oneHot needs one class id per sample"));

  // Negative and too-large integer labels.
  ASSERT_TRUE(writeNpy(y, values<int32_t>({3}, {0, -1, 2})).ok());
  EXPECT_EQ(load(pair).message(), y + ": label -1 of sample 1 is negative (class ids start at 0)");
  ASSERT_TRUE(writeNpy(y, values<int64_t>({3}, {0, 1, int64_t(1) << 40})).ok());
  EXPECT_EQ(load(pair).message(),
            y + ": label 1099511627776 of sample 2 is out of range for an i32 class id");

  // NaN / Inf in the inputs name the sample.
  ASSERT_TRUE(writeNpy(y, values<int32_t>({3}, {0, 1, 2})).ok());
  ASSERT_TRUE(writeNpy(x, values<float>({3, 2}, {1, 2, 3, NAN, 5, 6})).ok());
  EXPECT_EQ(load(pair).message(), x + ": sample 1 holds NaN (element 1 of 2)");
  ASSERT_TRUE(writeNpy(x, values<float>({3, 2}, {1, 2, 3, 4, -INFINITY, 6})).ok());
  EXPECT_EQ(load(pair).message(), x + ": sample 2 holds -Inf (element 0 of 2)");
  o = {};
  o.limit = 2; // value checks apply to the kept samples
  EXPECT_TRUE(load(pair, o).ok());
  ASSERT_TRUE(writeNpy(x, values<double>({3, 1}, {1, 1e300, 2})).ok());
  EXPECT_EQ(load(pair).message(),
            x + ": sample 1 holds a value outside the f32 range (element 0 of 1)");
  o = {};
  o.scale = 1e38;
  ASSERT_TRUE(writeNpy(x, values<float>({3, 1}, {1, 4, 5})).ok());
  EXPECT_EQ(
      load(pair, o).message(),
      x + ": sample 1 holds a value outside the f32 range once scaled by 1e+38 (element 0 of 1)");

  // Count mismatch and an empty dataset.
  ASSERT_TRUE(writeNpy(y, values<int32_t>({2}, {0, 1})).ok());
  EXPECT_EQ(load(pair).message(),
            x + ": count mismatch: it holds 3 inputs but " + y + " holds 2 labels");
  ASSERT_TRUE(writeNpy(x, values<float>({0, 4}, {})).ok());
  ASSERT_TRUE(writeNpy(y, values<int32_t>({0}, {})).ok());
  EXPECT_EQ(load(pair).message(), x + ": empty dataset (0 samples)");
}

// --- CSV -----------------------------------------------------------------------

TEST(DatasetCsv, LoadsWithOptions) {
  TempDir dir;
  ASSERT_TRUE(writeText(dir.file("iris.csv"), "sl,sw,species\n5.1,3.5,0\n7.0,3.2,1\n6.3,3.3,2\n"));
  DatasetOptions o;
  o.oneHot = 3;
  o.scale = 0.5;
  Expected<Dataset> d = load(dir.file("iris.csv"), o);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->x.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_FLOAT_EQ(d->x.data<float>()[0], 2.55f);
  EXPECT_EQ(d->y.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(d->y.data<float>()[8], 1.0f);
  EXPECT_TRUE(contains(d->description, "label column 2 'species'"));
  o = {};
  o.labelColumn = "0";
  o.csvHeader = false;
  ASSERT_TRUE(writeText(dir.file("n.csv"), "1,10,20\n0,30,40\n"));
  Expected<Dataset> n = load(dir.file("n.csv"), o);
  ASSERT_TRUE(n.ok()) << n.message();
  EXPECT_EQ(n->y.data<int32_t>()[0], 1);
  EXPECT_EQ(n->x.data<float>()[3], 40.0f);
  ASSERT_TRUE(writeText(dir.file("bad.csv"), "a,b\n1,2\n3,x\n"));
  EXPECT_EQ(load(dir.file("bad.csv")).message(),
            dir.file("bad.csv") + ": line 3 (sample 1), column index 1 ('b'): 'x' is not a number");
}

// --- options and paths ---------------------------------------------------------

TEST(DatasetOptions, ScaleLimitAndValidation) {
  TempDir dir;
  writeMnist(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 20, false);
  DatasetOptions o;
  o.scale = 1;
  o.limit = 3;
  Expected<Dataset> d = load(dir.path(), o);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->x.shape()[0], 3);
  EXPECT_EQ(d->y.shape()[0], 3);
  EXPECT_EQ(d->x.data<float>()[1], 1.0f); // raw pixel values
  EXPECT_TRUE(contains(d->description, "3 samples (first 3 of 20)"));
  o.limit = 1000; // more than there are: all
  EXPECT_EQ(load(dir.path(), o)->x.shape()[0], 20);

  auto bad = [&](DatasetOptions opt) { return load(dir.path(), opt).message(); };
  o = {};
  o.split = "valid";
  EXPECT_EQ(bad(o), "split 'valid': expected 'train' or 'test'");
  o = {};
  o.scale = -1;
  EXPECT_TRUE(contains(bad(o), "scale -1.000000: expected a finite number > 0"));
  o.scale = NAN;
  EXPECT_TRUE(contains(bad(o), "expected a finite number > 0"));
  o = {};
  o.oneHot = -2;
  EXPECT_TRUE(contains(bad(o), "oneHot -2"));
  o = {};
  o.limit = -1;
  EXPECT_TRUE(contains(bad(o), "limit -1"));
}

TEST(DatasetPaths, UnsupportedAndMissing) {
  TempDir dir;
  ASSERT_TRUE(writeNpy(dir.file("x.npy"), values<float>({1}, {1})).ok());
  EXPECT_TRUE(
      contains(load(dir.file("x.npy")).message(), "a single .npy file holds only one array"));
  ASSERT_TRUE(writeText(dir.file("notes.md"), "hello"));
  EXPECT_TRUE(contains(load(dir.file("notes.md")).message(),
                       dir.file("notes.md") + ": unrecognised training data"));
  EXPECT_TRUE(
      contains(load(dir.file("none.npz")).message(), dir.file("none.npz") + ": cannot open"));
  EXPECT_TRUE(contains(load(dir.file("x.npy") + "," + dir.file("y.npy")).message(),
                       dir.file("y.npy") + ": cannot open"));
  EXPECT_TRUE(contains(load("a,b,c").message(), "expected two comma-separated files"));
  EXPECT_EQ(load("").message(), "no training data path given");
}

// --- the real MNIST sample (outside the project; skipped when absent) ----------

TEST(DatasetRealData, Mnist10k) {
  const char *env = std::getenv("KILN_MNIST_10K");
  std::string dir = env && *env ? env : "/work/shared/data/mnist-10k";
  struct stat st;
  if (::stat((dir + "/images-idx3-ubyte.gz").c_str(), &st) != 0)
    GTEST_SKIP() << dir << " is absent (a 10k-digit MNIST sample that is not part of the project; "
                 << "set KILN_MNIST_10K to its folder to run this test)";
  auto start = std::chrono::steady_clock::now();
  Expected<Dataset> d = loadDataset(dir, {});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(d.ok()) << d.message();
  std::printf("loaded %s in %.3f s: %s\n", dir.c_str(), seconds, d->description.c_str());
  ASSERT_EQ(d->x.shape(), (std::vector<int64_t>{10000, 28, 28, 1}));
  ASSERT_EQ(d->y.shape(), (std::vector<int64_t>{10000}));
  std::vector<int> histogram(10, 0);
  for (int64_t i = 0; i < 10000; ++i) {
    int32_t label = d->y.data<int32_t>()[i];
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++histogram[size_t(label)];
  }
  for (int c = 0; c < 10; ++c) { // about 10% each (the README: 863 to 1127)
    EXPECT_GT(histogram[size_t(c)], 700) << "class " << c;
    EXPECT_LT(histogram[size_t(c)], 1300) << "class " << c;
  }
  const float *x = d->x.data<float>();
  float lo = x[0], hi = x[0];
  double sum = 0;
  for (uint64_t i = 0; i < d->x.numElements(); ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum += x[i];
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  double mean = sum / double(d->x.numElements());
  EXPECT_GT(mean, 0.08); // MNIST's mean pixel is about 0.13
  EXPECT_LT(mean, 0.2);
  // The first 8000 / last 2000 are the README's train / test split: limit keeps the first.
  DatasetOptions o;
  o.limit = 8000;
  Expected<Dataset> first = loadDataset(dir, o);
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_EQ(first->x.shape()[0], 8000);
  EXPECT_EQ(0, std::memcmp(first->x.bytes(), d->x.bytes(), first->x.byteSize()));
}
