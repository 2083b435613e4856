//===- FitTest.cpp - kiln_fit / evaluate / predict and checkpoints ---------===//
//
// The training loop of the runtime on real models: examples/*.kiln (and a
// small softmax classifier with Adam) compiled by kilnc at test time, trained
// on synthetic data through the C API. Checks the loss goes down, that a
// padded partial batch equals a batch compiled for exactly those samples,
// evaluate/predict against per-sample runs, bitwise resumption from a
// checkpoint, early stopping with restore, non-finite detection leaving the
// checkpoint untouched, the callback, checkpoint errors, and that nothing is
// allocated per step.
//
//===----------------------------------------------------------------------===//

#include "ExpectError.h"
#include "runtime/kiln_runtime.h"

#include <gtest/gtest.h>

#include <dirent.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

//===--- allocation counting (interposes malloc for the whole process) -----===//

extern "C" void *__libc_malloc(size_t);
extern "C" void *__libc_calloc(size_t, size_t);
extern "C" void *__libc_realloc(void *, size_t);
extern "C" void *__libc_memalign(size_t, size_t);

namespace {
std::atomic<long> gAllocations{0};
}

extern "C" void *malloc(size_t n) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void *calloc(size_t n, size_t m) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, m);
}
extern "C" void *realloc(void *p, size_t n) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
extern "C" int posix_memalign(void **out, size_t alignment, size_t n) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  void *p = __libc_memalign(alignment, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}
extern "C" void *aligned_alloc(size_t alignment, size_t n) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}

namespace {

//===--- helpers -------------------------------------------------------------===//

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

const std::string &tempDir() {
  static std::string dir = [] {
    std::string pattern = ::testing::TempDir() + "kiln-fit-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const char *made = mkdtemp(buf.data());
    if (!made) {
      std::perror("mkdtemp");
      std::abort();
    }
    return std::string(made);
  }();
  return dir;
}

std::string tempPath(const std::string &name) { return tempDir() + "/" + name; }

/// Removes the temporary directory after the tests.
struct RemoveTempDir : ::testing::Environment {
  void TearDown() override {
    if (contains(tempDir(), "kiln-fit-"))
      (void)std::system(("rm -rf '" + tempDir() + "'").c_str());
  }
};
[[maybe_unused]] ::testing::Environment *const gRemoveTempDir =
    ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

std::string example(const std::string &name) { return std::string(KILN_EXAMPLES_DIR) + "/" + name + ".kiln"; }

/// Sparse-label softmax classifier with Adam (moment state entries).
const char *kSoftmaxModel = "model softmax_classifier\n"
                            "Input(shape=(4,))\n"
                            "Dense(8, activation=\"relu\")\n"
                            "Dense(3, activation=\"softmax\")\n"
                            "compile(loss=\"sparse_categorical_crossentropy\", optimizer=Adam(learning_rate=0.01), "
                            "metrics=[\"accuracy\"])\n"
                            "fit(epochs=3, batch_size=16)\n";

std::string softmaxSource() {
  std::string path = tempPath("softmax_classifier.kiln");
  std::ofstream(path) << kSoftmaxModel;
  return path;
}

/// kilnc `source` [--batch-size=batches] -> a .kbin (cached per test run).
std::string compile(const std::string &source, const std::string &batches = "") {
  static std::map<std::string, std::string> cache;
  std::string key = source + "|" + batches;
  auto it = cache.find(key);
  if (it != cache.end())
    return it->second;
  std::string out = tempPath("m" + std::to_string(cache.size()) + ".kbin");
  std::string cmd = std::string(KILNC) + " '" + source + "' -o '" + out + "'" +
                    (batches.empty() ? "" : " --batch-size=" + batches) + " 2>'" + out + ".err'";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  cache[key] = out;
  return out;
}

struct Model {
  kiln_model *m = nullptr;
  explicit Model(const std::string &kbin) {
    kiln_status s = kiln_model_load_file(kbin.c_str(), KILN_LOAD_DEFAULT, &m);
    EXPECT_EQ(s, KILN_OK) << kiln_last_error();
  }
  Model(const Model &) = delete;
  ~Model() { kiln_model_free(m); }
  operator kiln_model *() const { return m; }
};

std::vector<float> getParam(kiln_model *m, const char *name) {
  const kiln_param_info *p = nullptr;
  EXPECT_EQ(kiln_model_find_param(m, name, &p), KILN_OK) << kiln_last_error();
  if (!p)
    return {};
  std::vector<float> v(static_cast<size_t>(p->tensor.num_elements));
  EXPECT_EQ(kiln_model_get_param(m, name, v.data(), p->tensor.byte_size), KILN_OK);
  return v;
}

void setScalar(kiln_model *m, const char *name, float value) {
  ASSERT_EQ(kiln_model_set_param(m, name, KILN_F32, &value, 1), KILN_OK) << kiln_last_error();
}

/// Every parameter and state entry's bytes, by name.
std::map<std::string, std::vector<uint8_t>> allParams(kiln_model *m) {
  std::map<std::string, std::vector<uint8_t>> out;
  size_t n = 0;
  kiln_model_num_params(m, &n);
  for (size_t i = 0; i < n; ++i) {
    const kiln_param_info *p = nullptr;
    kiln_model_param(m, i, &p);
    std::vector<uint8_t> bytes(p->tensor.byte_size);
    kiln_model_get_param(m, p->tensor.name, bytes.data(), bytes.size());
    out[p->tensor.name] = bytes;
  }
  return out;
}

void setAllParams(kiln_model *m, const std::map<std::string, std::vector<uint8_t>> &values) {
  for (const auto &[name, bytes] : values) {
    const kiln_param_info *p = nullptr;
    ASSERT_EQ(kiln_model_find_param(m, name.c_str(), &p), KILN_OK);
    ASSERT_EQ(kiln_model_set_param(m, name.c_str(), p->tensor.dtype, bytes.data(), bytes.size() / 4), KILN_OK);
  }
}

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// A dataset owning its arrays.
struct Data {
  std::vector<float> x;
  std::vector<int64_t> xShape;
  std::vector<float> yf;
  std::vector<int32_t> yi;
  std::vector<int64_t> yShape;
  kiln_dataset d{};

  const kiln_dataset *get() {
    d.x = x.data();
    d.x_dtype = KILN_F32;
    d.x_shape = xShape.data();
    d.x_rank = static_cast<int32_t>(xShape.size());
    d.y = yi.empty() ? static_cast<const void *>(yf.data()) : yi.data();
    d.y_dtype = yi.empty() ? KILN_F32 : KILN_I32;
    d.y_shape = yShape.data();
    d.y_rank = static_cast<int32_t>(yShape.size());
    return &d;
  }
  int64_t n() const { return xShape[0]; }
  /// Rows [begin, end) as a new dataset.
  Data slice(int64_t begin, int64_t end) const {
    Data s;
    size_t xr = x.size() / static_cast<size_t>(n());
    s.x.assign(x.begin() + begin * static_cast<long>(xr), x.begin() + end * static_cast<long>(xr));
    s.xShape = xShape;
    s.xShape[0] = end - begin;
    s.yShape = yShape;
    s.yShape[0] = end - begin;
    if (!yi.empty()) {
      s.yi.assign(yi.begin() + begin, yi.begin() + end);
    } else {
      size_t yr = yf.size() / static_cast<size_t>(n());
      s.yf.assign(yf.begin() + begin * static_cast<long>(yr), yf.begin() + end * static_cast<long>(yr));
    }
    return s;
  }
};

/// y = 2x + 1 + noise, x in [-1, 1].
Data linearData(int64_t n, unsigned seed, float slope = 2, float noise = 0.05f) {
  Data d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::normal_distribution<float> e(0, noise);
  for (int64_t i = 0; i < n; ++i) {
    float x = u(rng);
    d.x.push_back(x);
    d.yf.push_back(slope * x + 1 + e(rng));
  }
  d.xShape = {n, 1};
  d.yShape = {n, 1};
  return d;
}

/// Two Gaussian blobs in 2-D, labels 0/1 as f32 [n, 1].
Data blobData(int64_t n, unsigned seed) {
  Data d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 0.5f);
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(rng() % 2);
    float cx = c ? 1.0f : -1.0f;
    d.x.push_back(cx + g(rng));
    d.x.push_back(cx + g(rng));
    d.yf.push_back(static_cast<float>(c));
  }
  d.xShape = {n, 2};
  d.yShape = {n, 1};
  return d;
}

/// Three classes in 4-D, i32 labels [n].
Data threeClassData(int64_t n, unsigned seed) {
  Data d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 0.4f);
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(rng() % 3);
    for (int j = 0; j < 4; ++j)
      d.x.push_back((j == c ? 1.5f : 0.0f) + g(rng));
    d.yi.push_back(c);
  }
  d.xShape = {n, 4};
  d.yShape = {n};
  return d;
}

kiln_fit_options options(int64_t epochs, int64_t batch = 0) {
  kiln_fit_options o;
  kiln_fit_options_init(&o);
  o.epochs = epochs;
  o.batch_size = batch;
  return o;
}


/// Records every progress report.
struct Recorder {
  struct Report {
    kiln_progress_kind kind;
    int64_t epoch, epochs, step, steps, samples;
    std::map<std::string, double> metrics;
    int improved;
  };
  std::vector<Report> reports;
  std::function<int(const kiln_progress &)> hook;

  static int callback(const kiln_progress *p, void *user) {
    auto *self = static_cast<Recorder *>(user);
    Report r{p->kind, p->epoch, p->epochs, p->step, p->steps, p->samples, {}, p->improved};
    for (size_t i = 0; i < p->num_metrics; ++i)
      r.metrics[p->metrics[i].name] = p->metrics[i].value;
    self->reports.push_back(r);
    return self->hook ? self->hook(*p) : 0;
  }
  void attach(kiln_fit_options &o) {
    o.progress = &Recorder::callback;
    o.user = this;
  }
  std::vector<Report> epochs() const {
    std::vector<Report> out;
    for (const Report &r : reports)
      if (r.kind == KILN_PROGRESS_EPOCH)
        out.push_back(r);
    return out;
  }
};

} // namespace

//===--- training lowers the loss --------------------------------------------===//

TEST(RuntimeFit, LinearRegressionLearnsTheLine) {
  Model m(compile(example("linear_regression")));
  Data data = linearData(200, 1);
  kiln_metric before[4];
  size_t count = 0;
  ASSERT_EQ(kiln_evaluate(m, data.get(), 0, before, 4, &count), KILN_OK) << kiln_last_error();
  ASSERT_EQ(count, 1u);
  EXPECT_STREQ(before[0].name, "loss");

  kiln_fit_options o = options(30);
  Recorder rec;
  rec.attach(o);
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  auto epochs = rec.epochs();
  ASSERT_EQ(epochs.size(), 30u);
  EXPECT_EQ(epochs[0].steps, 7); // ceil(200 / 32)
  EXPECT_EQ(epochs[0].samples, 200);
  EXPECT_LT(epochs.back().metrics["loss"], epochs[0].metrics["loss"]);
  kiln_metric after[1];
  ASSERT_EQ(kiln_evaluate(m, data.get(), 0, after, 1, &count), KILN_OK);
  EXPECT_LT(after[0].value, 0.01);
  EXPECT_LT(after[0].value, before[0].value / 10);
  EXPECT_NEAR(getParam(m, "dense/kernel")[0], 2.0f, 0.05f);
  EXPECT_NEAR(getParam(m, "dense/bias")[0], 1.0f, 0.05f);
  EXPECT_EQ(getParam(m, "optimizer/iterations")[0], 30.0f * 7);
}

TEST(RuntimeFit, BinaryClassifierLearnsTwoBlobsWithTheModelFilesValidationSplit) {
  Model m(compile(example("binary_classifier")));
  Data data = blobData(300, 2);
  kiln_fit_options o = options(0); // the file's fit(epochs=10, batch_size=32, validation_split=0.1)
  Recorder rec;
  rec.attach(o);
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  auto epochs = rec.epochs();
  ASSERT_EQ(epochs.size(), 10u);
  EXPECT_EQ(epochs[0].epochs, 10);
  EXPECT_EQ(epochs[0].samples, 270); // floor(300 * 0.9)
  EXPECT_EQ(epochs[0].steps, 9);
  ASSERT_TRUE(epochs[0].metrics.count("val_loss"));
  ASSERT_TRUE(epochs[0].metrics.count("val_binary_accuracy"));
  EXPECT_LT(epochs.back().metrics["loss"], epochs[0].metrics["loss"]);
  EXPECT_LT(epochs.back().metrics["val_loss"], epochs[0].metrics["val_loss"]);
  EXPECT_GT(epochs.back().metrics["binary_accuracy"], 0.9);
  EXPECT_GT(epochs.back().metrics["val_binary_accuracy"], 0.9);
  // Batch reports: running means, samples so far.
  ASSERT_FALSE(rec.reports.empty());
  EXPECT_EQ(rec.reports[0].kind, KILN_PROGRESS_BATCH);
  EXPECT_EQ(rec.reports[0].step, 1);
  EXPECT_EQ(rec.reports[0].samples, 32);
  EXPECT_EQ(rec.reports[8].samples, 270);
  EXPECT_EQ(rec.reports[8].metrics["loss"], epochs[0].metrics["loss"]);
}

//===--- exact batching ---------------------------------------------------------===//

// 70 samples in batches of 32: 32 + 32 + 6 (padded). Must equal running a
// model compiled for batch 32 and 6 on exactly those rows, in data order.
TEST(RuntimeFit, PartialBatchEqualsABatchOfJustThoseSamples) {
  for (const char *name : {"linear_regression", "binary_classifier"}) {
    SCOPED_TRACE(name);
    Data data = std::string(name) == "linear_regression" ? linearData(70, 3) : blobData(70, 3);
    Model fitted(compile(example(name), "32"));
    Model manual(compile(example(name), "32,6"));
    setAllParams(manual, allParams(fitted));
    kiln_fit_options o = options(1, 32);
    o.shuffle = 0;
    o.validation_split = 0; // not the binary classifier's fit(validation_split=0.1)
    Recorder rec;
    rec.attach(o);
    ASSERT_EQ(kiln_fit(fitted, data.get(), &o), KILN_OK) << kiln_last_error();

    size_t xRow = data.x.size() / 70, yRow = data.yf.size() / 70;
    double weighted = 0;
    for (int b = 0; b < 3; ++b) {
      int64_t first = 32 * b, count = b < 2 ? 32 : 6;
      std::string entry = b < 2 ? "train_step_b32" : "train_step_b6";
      kiln_session *s = nullptr;
      ASSERT_EQ(kiln_session_create(manual, entry.c_str(), &s), KILN_OK) << kiln_last_error();
      ASSERT_EQ(kiln_session_set_input(s, "input", KILN_F32, nullptr, 0, data.x.data() + first * xRow,
                                       count * xRow * 4),
                KILN_OK);
      ASSERT_EQ(kiln_session_set_input(s, "labels", KILN_F32, nullptr, 0, data.yf.data() + first * yRow,
                                       count * yRow * 4),
                KILN_OK);
      ASSERT_EQ(kiln_session_run(s), KILN_OK);
      float loss = 0;
      ASSERT_EQ(kiln_session_get_output(s, "loss", &loss, 4), KILN_OK);
      weighted += double(loss) * count;
      kiln_session_destroy(s);
    }
    EXPECT_EQ(allParams(fitted), allParams(manual)); // bit for bit
    EXPECT_NEAR(rec.epochs().at(0).metrics["loss"], weighted / 70, 1e-12);
  }
}

// With shuffle off and a batch larger than N, the one padded batch of fit
// equals one train_step of a model compiled for batch N, bit for bit.
TEST(RuntimeFit, OnePaddedBatchEqualsTrainStepOfBatchN) {
  for (const char *name : {"linear_regression", "binary_classifier"}) {
    SCOPED_TRACE(name);
    Data data = std::string(name) == "linear_regression" ? linearData(5, 4) : blobData(5, 4);
    Model fitted(compile(example(name), "8"));
    Model exact(compile(example(name), "5"));
    setAllParams(exact, allParams(fitted));
    kiln_fit_options o = options(1, 8);
    o.shuffle = 0;
    o.validation_split = 0;
    Recorder rec;
    rec.attach(o);
    ASSERT_EQ(kiln_fit(fitted, data.get(), &o), KILN_OK) << kiln_last_error();
    kiln_session *s = nullptr;
    ASSERT_EQ(kiln_session_create(exact, "train_step", &s), KILN_OK) << kiln_last_error();
    ASSERT_EQ(kiln_session_set_input(s, "input", KILN_F32, nullptr, 0, data.x.data(), data.x.size() * 4), KILN_OK);
    ASSERT_EQ(kiln_session_set_input(s, "labels", KILN_F32, nullptr, 0, data.yf.data(), data.yf.size() * 4), KILN_OK);
    ASSERT_EQ(kiln_session_run(s), KILN_OK);
    float loss = 0;
    ASSERT_EQ(kiln_session_get_output(s, "loss", &loss, 4), KILN_OK);
    kiln_session_destroy(s);
    EXPECT_EQ(rec.epochs().at(0).metrics["loss"], double(loss));
    EXPECT_EQ(allParams(fitted), allParams(exact));
  }
}

//===--- evaluate and predict -----------------------------------------------------===//

TEST(RuntimeFit, EvaluateAndPredictCoverExactlyTheNSamples) {
  Data data = blobData(70, 5);
  Model m(compile(example("binary_classifier"), "32,1"));
  kiln_metric metrics[3];
  size_t count = 0;
  ASSERT_EQ(kiln_evaluate(m, data.get(), 32, metrics, 3, &count), KILN_OK) << kiln_last_error();
  ASSERT_EQ(count, 2u);
  EXPECT_STREQ(metrics[0].name, "loss");
  EXPECT_STREQ(metrics[1].name, "binary_accuracy");

  // The same, one sample at a time.
  kiln_session *s = nullptr, *p = nullptr;
  ASSERT_EQ(kiln_session_create(m, "eval_step_b1", &s), KILN_OK);
  ASSERT_EQ(kiln_session_create(m, "predict_b1", &p), KILN_OK);
  double loss = 0, accuracy = 0;
  std::vector<float> predicted(70);
  for (int i = 0; i < 70; ++i) {
    ASSERT_EQ(kiln_session_set_input(s, "input", KILN_F32, nullptr, 0, &data.x[2 * i], 8), KILN_OK);
    ASSERT_EQ(kiln_session_set_input(s, "labels", KILN_F32, nullptr, 0, &data.yf[i], 4), KILN_OK);
    ASSERT_EQ(kiln_session_run(s), KILN_OK);
    float v[2];
    kiln_session_get_output(s, "loss", &v[0], 4);
    kiln_session_get_output(s, "binary_accuracy", &v[1], 4);
    loss += v[0];
    accuracy += v[1];
    ASSERT_EQ(kiln_session_set_input(p, "input", KILN_F32, nullptr, 0, &data.x[2 * i], 8), KILN_OK);
    ASSERT_EQ(kiln_session_run(p), KILN_OK);
    kiln_session_get_output(p, "output", &predicted[i], 4);
  }
  kiln_session_destroy(s);
  kiln_session_destroy(p);
  EXPECT_NEAR(metrics[0].value, loss / 70, 1e-6 * std::fabs(loss / 70));
  EXPECT_NEAR(metrics[1].value, accuracy / 70, 1e-9);

  std::vector<float> out(70);
  ASSERT_EQ(kiln_predict(m, data.get(), 32, out.data(), out.size() * 4), KILN_OK) << kiln_last_error();
  for (int i = 0; i < 70; ++i)
    EXPECT_NEAR(out[i], predicted[i], 1e-6f) << i;
  // Batch 0: the first predict entry (b32).
  std::vector<float> out0(70);
  ASSERT_EQ(kiln_predict(m, data.get(), 0, out0.data(), out0.size() * 4), KILN_OK);
  EXPECT_EQ(out0, out);
  // Capacity smaller than the count: the first ones, the full count.
  ASSERT_EQ(kiln_evaluate(m, data.get(), 1, metrics, 1, &count), KILN_OK);
  EXPECT_EQ(count, 2u);
  EXPECT_NEAR(metrics[0].value, loss / 70, 1e-6);
  ASSERT_EQ(kiln_evaluate(m, data.get(), 1, nullptr, 0, &count), KILN_OK);
  EXPECT_EQ(count, 2u);
}

TEST(RuntimeFit, ValidationSplitHoldsOutTheLastFraction) {
  Data data = blobData(10, 6);
  Model m(compile(example("binary_classifier"), "4"));
  Data held = data.slice(7, 10); // floor(10 * 0.75) = 7
  kiln_fit_options o = options(2, 4);
  o.validation_split = 0.25;
  Recorder rec;
  std::vector<double> evaluated;
  rec.hook = [&](const kiln_progress &p) {
    if (p.kind == KILN_PROGRESS_EPOCH) {
      kiln_metric mt[2];
      size_t c = 0;
      EXPECT_EQ(kiln_evaluate(m, held.get(), 4, mt, 2, &c), KILN_OK);
      evaluated.push_back(mt[0].value);
    }
    return 0;
  };
  rec.attach(o);
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  auto epochs = rec.epochs();
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].samples, 7);
  EXPECT_EQ(epochs[0].steps, 2);
  EXPECT_EQ(epochs[0].metrics["val_loss"], evaluated[0]);
  EXPECT_EQ(epochs[1].metrics["val_loss"], evaluated[1]);

  // validation_data overrides the split.
  o.validation_split = 0.5;
  o.validation_data = held.get();
  rec.reports.clear();
  evaluated.clear();
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  EXPECT_EQ(rec.epochs()[0].samples, 10);
  EXPECT_EQ(rec.epochs()[0].metrics["val_loss"], evaluated[0]);

  // Keras refuses a split that leaves nothing on one side.
  kiln_fit_options bad = options(1, 4);
  bad.validation_split = 0.95; // floor(10 * 0.05) = 0 samples to train on
  EXPECT_ERROR(kiln_fit(m, data.get(), &bad), KILN_ERR_INVALID_ARGUMENT, "validation_split", "10 samples");
  bad.validation_split = 1.0;
  EXPECT_ERROR(kiln_fit(m, data.get(), &bad), KILN_ERR_INVALID_ARGUMENT, "[0, 1)");
}

//===--- shuffling and resumption --------------------------------------------------===//

TEST(RuntimeFit, ResumingFromACheckpointIsBitwiseTheStraightRun) {
  std::string kbin = compile(softmaxSource());
  Data data = threeClassData(100, 7); // 100 = 6 x 16 + 4: a padded batch per epoch
  std::string ckpt = tempPath("resume.safetensors"), first = tempPath("resume-epoch1.safetensors");

  Model straight(kbin);
  kiln_fit_options o = options(3);
  o.seed = 42;
  o.validation_split = 0.2;
  o.checkpoint_path = ckpt.c_str();
  Recorder rec;
  rec.hook = [&](const kiln_progress &p) {
    if (p.kind == KILN_PROGRESS_EPOCH && p.epoch == 0)
      writeBytes(first, readBytes(ckpt));
    return 0;
  };
  rec.attach(o);
  ASSERT_EQ(kiln_fit(straight, data.get(), &o), KILN_OK) << kiln_last_error();
  auto straightParams = allParams(straight);
  auto straightEpochs = rec.epochs();
  ASSERT_EQ(straightEpochs.size(), 3u);
  EXPECT_EQ(straightEpochs[0].samples, 80);

  Model resumed(kbin);
  int64_t epoch = -1;
  ASSERT_EQ(kiln_model_load_checkpoint(resumed, first.c_str(), &epoch), KILN_OK) << kiln_last_error();
  EXPECT_EQ(epoch, 1);
  EXPECT_NE(allParams(resumed), straightParams);
  Recorder rec2;
  rec2.attach(o);
  o.initial_epoch = epoch;
  o.checkpoint_path = nullptr;
  ASSERT_EQ(kiln_fit(resumed, data.get(), &o), KILN_OK) << kiln_last_error();
  EXPECT_EQ(allParams(resumed), straightParams); // weights, Adam moments, step counter
  auto resumedEpochs = rec2.epochs();
  ASSERT_EQ(resumedEpochs.size(), 2u);
  EXPECT_EQ(resumedEpochs[0].epoch, 1);
  EXPECT_EQ(resumedEpochs[1].metrics, straightEpochs[2].metrics);

  // The final checkpoint holds the final state and says 3 epochs.
  Model reloaded(kbin);
  ASSERT_EQ(kiln_model_load_checkpoint(reloaded, ckpt.c_str(), &epoch), KILN_OK);
  EXPECT_EQ(epoch, 3);
  EXPECT_EQ(allParams(reloaded), straightParams);

  // A different seed gives a different order (and different weights); the
  // same seed, the same.
  Model other(kbin), same(kbin);
  kiln_fit_options o2 = options(1);
  o2.seed = 43;
  ASSERT_EQ(kiln_fit(other, data.get(), &o2), KILN_OK);
  o2.seed = 42;
  o2.validation_split = 0.2;
  ASSERT_EQ(kiln_fit(same, data.get(), &o2), KILN_OK);
  Model once(kbin);
  ASSERT_EQ(kiln_model_load_checkpoint(once, first.c_str(), nullptr), KILN_OK);
  EXPECT_EQ(allParams(same), allParams(once));
  EXPECT_NE(allParams(other), allParams(once));
}

TEST(RuntimeFit, InitialEpochAtOrPastEpochsTrainsNothing) {
  Model m(compile(example("linear_regression")));
  Data data = linearData(20, 8);
  auto before = allParams(m);
  kiln_fit_options o = options(2);
  o.initial_epoch = 2;
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  EXPECT_EQ(allParams(m), before);
}

//===--- early stopping -------------------------------------------------------------===//

// Validation labels follow y = -2x + 1 while training learns y = 2x + 1: the
// validation loss gets worse every epoch after the first.
TEST(RuntimeFit, EarlyStoppingStopsAndRestoresTheBestEpoch) {
  Model m(compile(example("linear_regression")));
  Data train = linearData(64, 9), val = linearData(32, 10, -2.0f);
  setScalar(m, "optimizer/learning_rate", 0.05f);
  kiln_fit_options o = options(20);
  o.validation_data = val.get();
  o.monitor = "val_loss";
  o.patience = 2;
  o.restore_best_weights = 1;
  Recorder rec;
  std::map<int64_t, std::map<std::string, std::vector<uint8_t>>> snapshots;
  rec.hook = [&](const kiln_progress &p) {
    if (p.kind == KILN_PROGRESS_EPOCH)
      snapshots[p.epoch] = allParams(m);
    return 0;
  };
  rec.attach(o);
  ASSERT_EQ(kiln_fit(m, train.get(), &o), KILN_OK) << kiln_last_error();
  auto epochs = rec.epochs();
  ASSERT_GE(epochs.size(), 3u);
  ASSERT_LT(epochs.size(), 20u);
  // The best epoch is the last one with improved = 1; then `patience` more.
  size_t best = 0;
  for (size_t i = 0; i < epochs.size(); ++i)
    if (epochs[i].improved)
      best = i;
  EXPECT_EQ(epochs[0].improved, 1);
  EXPECT_EQ(epochs.size(), best + 1 + 2);
  for (size_t i = best + 1; i < epochs.size(); ++i)
    EXPECT_GE(epochs[i].metrics["val_loss"], epochs[best].metrics["val_loss"]);
  // Weights and optimizer state (the step counter) of the best epoch.
  EXPECT_EQ(allParams(m), snapshots[static_cast<int64_t>(best)]);
  EXPECT_EQ(getParam(m, "optimizer/iterations")[0], float(2 * (best + 1)));

  // Without restore_best_weights the last epoch's weights stay.
  Model m2(compile(example("linear_regression")));
  setScalar(m2, "optimizer/learning_rate", 0.05f);
  o.restore_best_weights = 0;
  Recorder rec2;
  rec2.attach(o);
  ASSERT_EQ(kiln_fit(m2, train.get(), &o), KILN_OK);
  EXPECT_EQ(rec2.epochs().size(), epochs.size());
  EXPECT_EQ(getParam(m2, "optimizer/iterations")[0], float(2 * epochs.size()));

  // Accuracy is maximised: with min_delta 1 nothing ever improves after the first epoch.
  Model m3(compile(example("binary_classifier")));
  Data blobs = blobData(64, 11);
  kiln_fit_options o3 = options(10);
  o3.validation_split = 0.5;
  o3.monitor = "val_binary_accuracy";
  o3.min_delta = 1.0;
  o3.patience = 1;
  Recorder rec3;
  rec3.attach(o3);
  ASSERT_EQ(kiln_fit(m3, blobs.get(), &o3), KILN_OK) << kiln_last_error();
  EXPECT_EQ(rec3.epochs().size(), 2u);

  kiln_fit_options bad = options(2);
  bad.monitor = "val_loss";
  EXPECT_ERROR(kiln_fit(m, train.get(), &bad), KILN_ERR_NOT_FOUND, "monitor 'val_loss'", "loss",
               "validation_split or validation_data");
}

//===--- non-finite values, callback stops -----------------------------------------===//

TEST(RuntimeFit, NonFiniteLossStopsAndKeepsTheCheckpoint) {
  Model m(compile(example("linear_regression")));
  Data data = linearData(64, 12);
  std::string ckpt = tempPath("nan.safetensors");
  kiln_fit_options o = options(1);
  o.checkpoint_path = ckpt.c_str();
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  std::vector<uint8_t> saved = readBytes(ckpt);
  ASSERT_FALSE(saved.empty());

  setScalar(m, "optimizer/learning_rate", 1e30f);
  o.epochs = 3;
  o.initial_epoch = 1;
  EXPECT_ERROR(kiln_fit(m, data.get(), &o), KILN_ERR_NON_FINITE, "epoch 2/3", "step ", "'loss'",
               "first non-finite parameter: 'dense/kernel'", "checkpoint is kept");
  EXPECT_EQ(readBytes(ckpt), saved);
  EXPECT_STREQ(kiln_status_name(KILN_ERR_NON_FINITE), "KILN_ERR_NON_FINITE");
  // No temporary file left next to it.
  DIR *dir = opendir(tempDir().c_str());
  ASSERT_NE(dir, nullptr);
  while (dirent *e = readdir(dir))
    EXPECT_FALSE(contains(e->d_name, "nan.safetensors.tmp")) << e->d_name;
  closedir(dir);

  // A NaN parameter: the first step's loss is NaN, and the update spreads
  // it to every weight; the first in model order is named.
  Model m2(compile(example("binary_classifier")));
  float nan = std::nanf("");
  ASSERT_EQ(kiln_model_set_param(m2, "dense_1/bias", KILN_F32, &nan, 1), KILN_OK);
  Data blobs = blobData(40, 13);
  kiln_fit_options o2 = options(2);
  o2.validation_split = 0;
  EXPECT_ERROR(kiln_fit(m2, blobs.get(), &o2), KILN_ERR_NON_FINITE, "epoch 1/2, step 1/2", "'loss' is nan",
               "first non-finite parameter: 'dense/kernel'");
}

TEST(RuntimeFit, TheCallbackCanStopTraining) {
  Model m(compile(example("linear_regression")));
  Data data = linearData(100, 14); // 4 steps per epoch
  std::string ckpt = tempPath("stop.safetensors");
  kiln_fit_options o = options(5);
  o.checkpoint_path = ckpt.c_str();
  Recorder rec;
  rec.hook = [](const kiln_progress &p) { return p.kind == KILN_PROGRESS_BATCH && p.epoch == 1 && p.step == 2; };
  rec.attach(o);
  EXPECT_ERROR(kiln_fit(m, data.get(), &o), KILN_ERR_STOPPED, "progress callback", "epoch 2/5, step 2/4");
  EXPECT_EQ(getParam(m, "optimizer/iterations")[0], 6.0f);
  // The checkpoint is the one of the last whole epoch.
  Model c(compile(example("linear_regression")));
  int64_t epoch = 0;
  ASSERT_EQ(kiln_model_load_checkpoint(c, ckpt.c_str(), &epoch), KILN_OK) << kiln_last_error();
  EXPECT_EQ(epoch, 1);
  EXPECT_EQ(getParam(c, "optimizer/iterations")[0], 4.0f);
  EXPECT_STREQ(kiln_status_name(KILN_ERR_STOPPED), "KILN_ERR_STOPPED");

  // Stopping at an epoch report: its checkpoint is written first.
  Model m2(compile(example("linear_regression")));
  Recorder rec2;
  rec2.hook = [](const kiln_progress &p) { return p.kind == KILN_PROGRESS_EPOCH && p.epoch == 2; };
  rec2.attach(o);
  EXPECT_ERROR(kiln_fit(m2, data.get(), &o), KILN_ERR_STOPPED, "after epoch 3/5");
  ASSERT_EQ(kiln_model_load_checkpoint(c, ckpt.c_str(), &epoch), KILN_OK);
  EXPECT_EQ(epoch, 3);
  EXPECT_EQ(allParams(c), allParams(m2));
}

//===--- checkpoints ----------------------------------------------------------------===//

TEST(RuntimeCheckpoint, SavesAndLoadsEveryParameterAndState) {
  Model m(compile(softmaxSource()));
  Data data = threeClassData(50, 15);
  kiln_fit_options o = options(2);
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK);
  std::string path = tempPath("roundtrip.safetensors");
  ASSERT_EQ(kiln_model_save_checkpoint(m, path.c_str(), 7), KILN_OK) << kiln_last_error();
  std::vector<uint8_t> bytes = readBytes(path);
  ASSERT_GT(bytes.size(), 8u);
  uint64_t headerSize = 0;
  std::memcpy(&headerSize, bytes.data(), 8);
  EXPECT_EQ(headerSize % 8, 0u);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(headerSize));
  EXPECT_TRUE(contains(header, "\"__metadata__\":{\"epoch\":\"7\",\"format\":\"kiln-checkpoint\"}")) << header;
  EXPECT_TRUE(contains(header, "\"optimizer/dense/kernel/m\"")) << header;
  EXPECT_TRUE(contains(header, "\"dense/kernel\":{\"dtype\":\"F32\",\"shape\":[4,8]")) << header;

  Model fresh(compile(softmaxSource()));
  int64_t epoch = 0;
  ASSERT_EQ(kiln_model_load_checkpoint(fresh, path.c_str(), &epoch), KILN_OK) << kiln_last_error();
  EXPECT_EQ(epoch, 7);
  EXPECT_EQ(allParams(fresh), allParams(m));

  // Weights only (no state, no metadata) load too: epoch 0, state untouched.
  // Hand-written: {"dense_1/bias": F32 [3]}.
  std::string weights = tempPath("weights.safetensors");
  std::string json = "{\"dense_1/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
  std::vector<uint8_t> file(8);
  uint64_t n = json.size();
  std::memcpy(file.data(), &n, 8);
  file.insert(file.end(), json.begin(), json.end());
  float bias[3] = {1, 2, 3};
  file.insert(file.end(), reinterpret_cast<uint8_t *>(bias), reinterpret_cast<uint8_t *>(bias) + 12);
  writeBytes(weights, file);
  auto before = allParams(fresh);
  ASSERT_EQ(kiln_model_load_checkpoint(fresh, weights.c_str(), &epoch), KILN_OK) << kiln_last_error();
  EXPECT_EQ(epoch, 0);
  EXPECT_EQ(getParam(fresh, "dense_1/bias"), (std::vector<float>{1, 2, 3}));
  auto after = allParams(fresh);
  after.erase("dense_1/bias");
  before.erase("dense_1/bias");
  EXPECT_EQ(after, before);
}

TEST(RuntimeCheckpoint, LoadErrorsNameTheFileAndTheTensor) {
  Model m(compile(example("linear_regression")));
  Model other(compile(example("binary_classifier")));
  std::string missing = tempPath("no-such.safetensors");
  EXPECT_ERROR(kiln_model_load_checkpoint(m, missing.c_str(), nullptr), KILN_ERR_IO, missing.c_str(), "cannot open");

  // Wrong shape: the binary classifier's dense/kernel is [2, 64].
  std::string bc = tempPath("bc.safetensors");
  ASSERT_EQ(kiln_model_save_checkpoint(other, bc.c_str(), 1), KILN_OK);
  auto before = allParams(m);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, bc.c_str(), nullptr), KILN_ERR_INVALID_ARGUMENT, bc.c_str(),
               "'dense/kernel'", "[2, 64]", "[1, 1]");
  EXPECT_EQ(allParams(m), before); // nothing changed

  // Unknown name: the classifier has dense_1/*.
  auto write = [](const std::string &path, const std::string &json, size_t dataBytes) {
    std::vector<uint8_t> file(8);
    uint64_t n = json.size();
    std::memcpy(file.data(), &n, 8);
    file.insert(file.end(), json.begin(), json.end());
    file.resize(file.size() + dataBytes, 0);
    writeBytes(path, file);
  };
  std::string unknown = tempPath("unknown.safetensors");
  write(unknown,
        "{\"dense/bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"dense_1/bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, unknown.c_str(), nullptr), KILN_ERR_NOT_FOUND, unknown.c_str(),
               "'dense_1/bias'", "not a parameter");
  EXPECT_EQ(allParams(m), before);

  std::string dtype = tempPath("dtype.safetensors");
  write(dtype, "{\"dense/bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, dtype.c_str(), nullptr), KILN_ERR_INVALID_ARGUMENT, dtype.c_str(),
               "'dense/bias'", "F64");

  // Truncated: the data section is shorter than the offsets say.
  std::string lr = tempPath("lr.safetensors");
  ASSERT_EQ(kiln_model_save_checkpoint(m, lr.c_str(), 1), KILN_OK);
  std::vector<uint8_t> bytes = readBytes(lr);
  for (size_t cut : {size_t(0), size_t(5), size_t(20), bytes.size() - 1, bytes.size() - 4}) {
    std::string t = tempPath("truncated.safetensors");
    writeBytes(t, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    kiln_status s = kiln_model_load_checkpoint(m, t.c_str(), nullptr);
    EXPECT_NE(s, KILN_OK) << cut;
    EXPECT_TRUE(contains(kiln_last_error(), t)) << kiln_last_error();
  }
  // Not JSON, a gap in the data, a bad epoch.
  std::string junk = tempPath("junk.safetensors");
  write(junk, "{\"dense/bias\":", 0);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, junk.c_str(), nullptr), KILN_ERR_INVALID_ARGUMENT, junk.c_str(),
               "not a .safetensors checkpoint");
  write(junk, "{\"dense/bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, junk.c_str(), nullptr), KILN_ERR_INVALID_ARGUMENT, "'dense/bias'",
               "a gap");
  write(junk, "{\"__metadata__\":{\"epoch\":\"x\"}}", 0);
  EXPECT_ERROR(kiln_model_load_checkpoint(m, junk.c_str(), nullptr), KILN_ERR_INVALID_ARGUMENT, "epoch");
  EXPECT_EQ(allParams(m), before);

  // Saving where it cannot: the message names the path.
  std::string nodir = tempPath("no-dir/x.safetensors");
  EXPECT_ERROR(kiln_model_save_checkpoint(m, nodir.c_str(), 1), KILN_ERR_IO, nodir.c_str());
  EXPECT_ERROR(kiln_model_save_checkpoint(nullptr, lr.c_str(), 1), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_load_checkpoint(m, nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT, "path is NULL");
}

//===--- arguments ------------------------------------------------------------------===//

TEST(RuntimeFit, RejectsMismatchedDataAndOptions) {
  Model m(compile(example("binary_classifier"), "32,8"));
  Data data = blobData(40, 16);
  kiln_fit_options o = options(1);
  EXPECT_ERROR(kiln_fit(m, nullptr, &o), KILN_ERR_INVALID_ARGUMENT, "training data is NULL");
  o.batch_size = 7;
  EXPECT_ERROR(kiln_fit(m, data.get(), &o), KILN_ERR_NOT_FOUND, "batch size 7", "32, 8");
  o.batch_size = 8;
  Data wrong = data;
  wrong.xShape = {20, 4};
  EXPECT_ERROR(kiln_fit(m, wrong.get(), &o), KILN_ERR_INVALID_ARGUMENT, "x has shape [20, 4]", "[2]");
  Data labels = data;
  labels.yShape = {39, 1};
  EXPECT_ERROR(kiln_fit(m, labels.get(), &o), KILN_ERR_INVALID_ARGUMENT, "y has shape [39, 1]");
  Data flat = data;
  flat.yShape = {40}; // (N,) for (N, 1): accepted
  EXPECT_EQ(kiln_fit(m, flat.get(), &o), KILN_OK) << kiln_last_error();
  Data ints = data;
  ints.yi.assign(40, 0);
  EXPECT_ERROR(kiln_fit(m, ints.get(), &o), KILN_ERR_INVALID_ARGUMENT, "y has dtype i32", "f32");
  o.epochs = -1;
  EXPECT_ERROR(kiln_fit(m, data.get(), &o), KILN_ERR_INVALID_ARGUMENT, "epochs");
  EXPECT_ERROR(kiln_fit(nullptr, data.get(), &o), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  // An unwritable checkpoint directory fails before any training.
  o.epochs = 1;
  std::string nowhere = tempPath("no-dir/ck.safetensors");
  o.checkpoint_path = nowhere.c_str();
  auto before = allParams(m);
  EXPECT_ERROR(kiln_fit(m, data.get(), &o), KILN_ERR_IO, nowhere.c_str(), "cannot write");
  EXPECT_EQ(allParams(m), before);
  o.checkpoint_path = nullptr;
  kiln_metric mt[2];
  size_t c = 0;
  EXPECT_ERROR(kiln_evaluate(m, data.get(), 0, mt, 2, nullptr), KILN_ERR_INVALID_ARGUMENT, "count");
  std::vector<float> out(39);
  EXPECT_ERROR(kiln_predict(m, data.get(), 8, out.data(), out.size() * 4), KILN_ERR_INVALID_ARGUMENT,
               "40 samples", "need 160");
  // A model without compile(...): no train_step.
  std::string plain = tempPath("plain.kiln");
  std::ofstream(plain) << "model plain\nInput(shape=(2,))\nDense(1)\n";
  Model p(compile(plain));
  EXPECT_ERROR(kiln_fit(p, data.get(), nullptr), KILN_ERR_NOT_FOUND, "no 'train_step'", "compile(...)");
  EXPECT_ERROR(kiln_evaluate(p, data.get(), 0, mt, 2, &c), KILN_ERR_NOT_FOUND, "no 'eval_step'");
  out.resize(40);
  EXPECT_EQ(kiln_predict(p, data.get(), 0, out.data(), out.size() * 4), KILN_OK) << kiln_last_error();
}

//===--- no allocation per step --------------------------------------------------===//

TEST(RuntimeFit, AllocatesNothingPerStep) {
  Model m(compile(softmaxSource()));
  Data data = threeClassData(500, 17); // 32 steps of 16 (the last one of 4)
  kiln_fit_options o = options(3);
  o.validation_split = 0.1;
  o.monitor = "val_loss";
  o.restore_best_weights = 1;
  struct Counts {
    long at[3][64];
    int n[3];
  } counts{};
  o.progress = [](const kiln_progress *p, void *user) {
    auto *c = static_cast<Counts *>(user);
    if (p->kind == KILN_PROGRESS_BATCH && c->n[p->epoch] < 64)
      c->at[p->epoch][c->n[p->epoch]++] = gAllocations.load();
    return 0;
  };
  o.user = &counts;
  ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
  for (int e = 0; e < 3; ++e) {
    ASSERT_EQ(counts.n[e], 29); // ceil(450 / 16)
    for (int i = 1; i < counts.n[e]; ++i)
      EXPECT_EQ(counts.at[e][i], counts.at[e][0]) << "epoch " << e << " step " << i + 1;
  }
}

//===--- threads -------------------------------------------------------------===//

namespace {

/// Random images [n, 28, 28, 1] in [0, 1) with i32 labels 0-9.
Data imageData(int64_t n, unsigned seed) {
  Data d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < n * 28 * 28; ++i)
    d.x.push_back(u(rng));
  for (int64_t i = 0; i < n; ++i)
    d.yi.push_back(static_cast<int32_t>(rng() % 10));
  d.xShape = {n, 28, 28, 1};
  d.yShape = {n};
  return d;
}

} // namespace

TEST(RuntimeThreads, TrainingIsBitwiseTheSameOnAnyThreadCount) {
  // The MNIST CNN: GEMMs and all three convolutions go through the kernels,
  // which split outputs over the model's pool. 3 threads cut differently
  // from 2 (and than 1) on every shape.
  std::string kbin = compile(std::string(KILN_EXAMPLES_DIR) + "/mnist_cnn.kiln", "16");
  Data data = imageData(40, 5); // 2 full batches and a padded one per epoch
  std::map<std::string, std::vector<uint8_t>> reference;
  for (int32_t threads : {1, 2, 3}) {
    Model m(kbin);
    int32_t got = 0;
    ASSERT_EQ(kiln_model_num_threads(m, &got), KILN_OK);
    EXPECT_GE(got, 1); // the default
    ASSERT_EQ(kiln_model_set_num_threads(m, threads), KILN_OK) << kiln_last_error();
    ASSERT_EQ(kiln_model_num_threads(m, &got), KILN_OK);
    EXPECT_EQ(got, threads);
    kiln_fit_options o = options(2, 16);
    o.seed = 3;
    o.validation_split = 0;
    ASSERT_EQ(kiln_fit(m, data.get(), &o), KILN_OK) << kiln_last_error();
    if (threads == 1)
      reference = allParams(m);
    else
      EXPECT_TRUE(allParams(m) == reference) << threads << " threads changed the trained parameters";
  }
}

TEST(RuntimeThreads, SetNumThreadsChecksItsArguments) {
  Model m(compile(softmaxSource()));
  EXPECT_ERROR(kiln_model_set_num_threads(nullptr, 2), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_set_num_threads(m, -1), KILN_ERR_INVALID_ARGUMENT, "num_threads", "got -1");
  EXPECT_ERROR(kiln_model_set_num_threads(m, KILN_MAX_THREADS + 1), KILN_ERR_INVALID_ARGUMENT, "num_threads");
  EXPECT_ERROR(kiln_model_num_threads(m, nullptr), KILN_ERR_INVALID_ARGUMENT, "num_threads is NULL");
  // 0 restores the default, KILN_NUM_THREADS when set.
  setenv("KILN_NUM_THREADS", "3", 1);
  ASSERT_EQ(kiln_model_set_num_threads(m, 0), KILN_OK);
  unsetenv("KILN_NUM_THREADS");
  int32_t got = 0;
  ASSERT_EQ(kiln_model_num_threads(m, &got), KILN_OK);
  EXPECT_EQ(got, 3);
}

