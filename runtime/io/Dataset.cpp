//===- Dataset.cpp - Training data for kiln-run fit -----------------------===//
#include "runtime/io/Dataset.h"

#include "runtime/io/ByteIO.h"
#include "runtime/io/Cifar.h"
#include "runtime/io/Csv.h"
#include "runtime/io/Gzip.h"
#include "runtime/io/Idx.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sys/stat.h>
#include <vector>

namespace kiln::io {
namespace {

// --- files -------------------------------------------------------------------

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string join(const std::string &dir, const std::string &name) {
  if (dir.empty() || dir.back() == '/')
    return dir + name;
  return dir + "/" + name;
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  if (s.size() < n)
    return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(uint8_t(s[s.size() - n + i])) != suffix[i])
      return false;
  return true;
}

/// Up to 512 bytes from the start of the file (decompressed when it is gzip:
/// `gzip` is set then).
Expected<std::vector<uint8_t>> fileHead(const std::string &path, bool *gzip) {
  Expected<std::unique_ptr<detail::FileSource>> file = detail::FileSource::open(path);
  if (!file)
    return file.status();
  std::vector<uint8_t> head(size_t(std::min<uint64_t>(512, (*file)->size())));
  if (Status s = (*file)->readAt(0, head.data(), head.size()); !s)
    return s;
  *gzip = detail::isGzip(head.data(), head.size());
  if (*gzip) {
    // Inflate just the first bytes (of the first 64 KiB of input).
    std::vector<uint8_t> packed(size_t(std::min<uint64_t>(65536, (*file)->size())));
    if (Status s = (*file)->readAt(0, packed.data(), packed.size()); !s)
      return s;
    detail::GzipReader gz(packed.data(), packed.size(), path);
    std::vector<uint8_t> out(16);
    Expected<size_t> got = gz.read(out.data(), out.size());
    if (!got)
      return got.status();
    out.resize(*got);
    return out;
  }
  return head;
}

// --- conversion and checks -------------------------------------------------

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float value;
  if (exp == 0)
    value = std::ldexp(float(mant), -24);
  else if (exp == 31)
    value = mant ? NAN : INFINITY;
  else
    value = std::ldexp(float(mant | 0x400), int(exp) - 25);
  return sign ? -value : value;
}

float bf16ToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

bool isFloat(DType d) {
  return d == DType::F16 || d == DType::BF16 || d == DType::F32 || d == DType::F64;
}

/// Element i of `a` as a double.
double elementAt(const Array &a, uint64_t i) {
  const uint8_t *p = a.bytes() + i * dtypeSize(a.dtype());
  switch (a.dtype()) {
  case DType::Bool:
  case DType::U8:
    return *p;
  case DType::I8:
    return *reinterpret_cast<const int8_t *>(p);
  case DType::U16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case DType::I16: {
    int16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case DType::U32: {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DType::I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DType::U64: {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return double(v);
  }
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return double(v);
  }
  case DType::F16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return halfToFloat(v);
  }
  case DType::BF16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16ToFloat(v);
  }
  case DType::F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DType::F64: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  }
  return 0;
}

std::string scaleText(double scale) {
  if (scale == 1)
    return "1";
  double inverse = 1 / scale;
  if (std::fabs(inverse - std::round(inverse)) < 1e-9 * inverse)
    return "1/" + std::to_string(int64_t(std::round(inverse)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", scale);
  return buf;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// The data of one format, before conversion.
struct Raw {
  Array x, y;               // any numeric dtype; first dimension = samples
  std::string xName, yName; // files (or archive members) for messages
  std::string format;       // "MNIST IDX", ...
  double defaultScale = 1;
  int64_t maxLabel = -1;   // largest valid class id (-1: no format limit)
  bool addChannel = false; // [N, H, W] -> [N, H, W, 1]
  std::string xNoun = "inputs", yNoun = "labels";
  int64_t total = -1; // samples in the files, when x holds only the kept ones
};

Expected<Dataset> finish(Raw raw, const DatasetOptions &options) {
  if (raw.x.rank() == 0)
    return Error(raw.xName + ": the inputs are a scalar; expected an array of samples [N, ...]");
  if (raw.y.rank() == 0)
    return Error(raw.yName + ": the labels are a scalar; expected an array [N] or [N, k]");
  const int64_t total = raw.x.shape()[0];
  if (raw.y.shape()[0] != total)
    return Error(raw.xName + ": count mismatch: it holds " + std::to_string(total) + " " +
                 raw.xNoun + " but " + raw.yName + " holds " + std::to_string(raw.y.shape()[0]) +
                 " " + raw.yNoun);
  if (total == 0)
    return Error(raw.xName + ": empty dataset (0 samples)");
  const int64_t n = options.limit > 0 ? std::min(options.limit, total) : total;

  // Inputs.
  const double scale = options.scale > 0 ? options.scale : raw.defaultScale;
  std::vector<int64_t> xShape = raw.x.shape();
  xShape[0] = n;
  if (raw.addChannel)
    xShape.push_back(1);
  Expected<Array> x = Array::uninitialized(DType::F32, xShape);
  if (!x)
    return Error(raw.xName + ": " + x.message());
  const uint64_t perSample = n ? x->numElements() / uint64_t(n) : 0;
  const uint64_t count = x->numElements();
  float *xs = x->data<float>();
  if (raw.x.dtype() == DType::U8) {
    float table[256];
    for (int v = 0; v < 256; ++v)
      table[v] = float(double(v) * scale);
    const uint8_t *in = raw.x.bytes();
    for (uint64_t i = 0; i < count; ++i)
      xs[i] = table[in[i]];
  } else if (raw.x.dtype() == DType::F32 && scale == 1) {
    std::memcpy(xs, raw.x.bytes(), count * sizeof(float));
  } else {
    for (uint64_t i = 0; i < count; ++i)
      xs[i] = float(elementAt(raw.x, i) * scale);
  }
  if (isFloat(raw.x.dtype()) || scale > 1) {
    for (uint64_t i = 0; i < count; ++i)
      if (!std::isfinite(xs[i])) {
        double original = elementAt(raw.x, i);
        std::string what = std::isnan(original)   ? "NaN"
                           : std::isinf(original) ? (original > 0 ? "+Inf" : "-Inf")
                                                  : "a value outside the f32 range";
        if (!std::isnan(original) && !std::isinf(original) && scale != 1)
          what += " once scaled by " + scaleText(scale);
        return Error(raw.xName + ": sample " + std::to_string(i / perSample) + " holds " + what +
                     " (element " + std::to_string(i % perSample) + " of " +
                     std::to_string(perSample) + ")");
      }
  }

  // Labels.
  const Array &ys = raw.y;
  const bool intLabels = !isFloat(ys.dtype());
  const int64_t width = ys.rank() >= 2 ? ys.shape()[1] : 1;
  if (ys.rank() > 2 || width == 0)
    return Error(raw.yName + ": labels of shape " + shapeText(ys.shape()) +
                 " (expected [N] class ids, or [N, k])");
  const bool classIds = (intLabels && width == 1) || (options.oneHot > 0 && width == 1);
  Dataset out;
  std::string yText;
  if (classIds) {
    // Class ids: integers >= 0 (and below the format's or one-hot limit).
    int64_t limit = INT32_MAX;
    std::string range;
    if (raw.maxLabel >= 0) {
      limit = std::max<int64_t>(raw.maxLabel, options.oneHot - 1);
      range = "0-" + std::to_string(limit);
    }
    if (options.oneHot > 0) {
      limit = std::min(limit, options.oneHot - 1);
      range = "0-" + std::to_string(limit) + " (oneHot = " + std::to_string(options.oneHot) +
              " classes)";
    }
    Expected<Array> ids = Array::uninitialized(DType::I32, {n});
    if (!ids)
      return Error(raw.yName + ": " + ids.message());
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t i = 0; i < n; ++i) {
      double v = elementAt(ys, uint64_t(i));
      if (!intLabels && !(std::isfinite(v) && v == std::floor(v)))
        return Error(raw.yName + ": label " + std::to_string(v) + " of sample " +
                     std::to_string(i) + " is not a whole number (oneHot needs class ids)");
      if (v < 0)
        return Error(raw.yName + ": label " + std::to_string(int64_t(v)) + " of sample " +
                     std::to_string(i) + " is negative (class ids start at 0)");
      if (v > double(limit)) {
        std::string shown =
            intLabels && ys.dtype() == DType::U64
                ? std::to_string(*reinterpret_cast<const uint64_t *>(ys.bytes() + 8 * size_t(i)))
                : std::to_string(int64_t(v));
        return Error(raw.yName + ": label " + shown + " of sample " + std::to_string(i) +
                     " is out of range " + (range.empty() ? "for an i32 class id" : range));
      }
      int32_t id = int32_t(v);
      ids->data<int32_t>()[i] = id;
      lo = std::min<int64_t>(lo, id);
      hi = std::max<int64_t>(hi, id);
    }
    std::string idRange = std::to_string(lo) + "-" + std::to_string(hi);
    if (options.oneHot > 0) {
      Expected<Array> rows = Array::zeros(DType::F32, {n, options.oneHot});
      if (!rows)
        return Error(raw.yName + ": " + rows.message());
      for (int64_t i = 0; i < n; ++i)
        rows->data<float>()[i * options.oneHot + ids->data<int32_t>()[i]] = 1.0f;
      out.y = std::move(rows).value();
      yText = "y f32 " + shapeText(out.y.shape()) + " one-hot (class ids " + idRange + ")";
    } else {
      out.y = std::move(ids).value();
      yText = "y i32 " + shapeText(out.y.shape()) + " class ids " + idRange;
    }
  } else {
    if (options.oneHot > 0)
      return Error(raw.yName + ": oneHot needs one class id per sample, but the labels are " +
                   std::string(dtypeName(ys.dtype())) + " " + shapeText(ys.shape()) +
                   " (already rows of " + std::to_string(width) + " values)");
    Expected<Array> rows = Array::uninitialized(DType::F32, {n, width});
    if (!rows)
      return Error(raw.yName + ": " + rows.message());
    float *r = rows->data<float>();
    const uint64_t values = uint64_t(n) * uint64_t(width);
    for (uint64_t i = 0; i < values; ++i) {
      r[i] = float(elementAt(ys, i));
      if (!std::isfinite(r[i]))
        return Error(raw.yName + ": the label of sample " + std::to_string(i / uint64_t(width)) +
                     " holds " + (std::isnan(r[i]) ? "NaN" : "Inf or a value outside f32"));
    }
    out.y = std::move(rows).value();
    yText = "y f32 " + shapeText(out.y.shape()) +
            (isFloat(ys.dtype()) && width == 1 ? " targets" : " rows");
  }
  out.x = std::move(x).value();
  const int64_t inFiles = raw.total >= 0 ? raw.total : total;
  out.description =
      raw.format + "; " + std::to_string(n) + " samples" +
      (n < inFiles ? " (first " + std::to_string(n) + " of " + std::to_string(inFiles) + ")" : "") +
      "; x f32 " + shapeText(out.x.shape()) + " from " + dtypeName(raw.x.dtype()) +
      (scale != 1 ? " scaled by " + scaleText(scale) : "") + "; " + yText;
  return out;
}

// --- formats -------------------------------------------------------------------

Expected<Dataset> loadIdxPair(const std::string &images, const std::string &labels,
                              const std::string &format, const DatasetOptions &options) {
  Expected<Array> x = readIdx(images, "images");
  if (!x)
    return x.status();
  Expected<Array> y = readIdx(labels, "labels");
  if (!y)
    return y.status();
  if (x->rank() == 1 && y->rank() >= 2)
    return Error(images + ": this is a labels file (1 dimension) and " + labels +
                 " an images file: give the images first ('images,labels')");
  if (x->rank() < 2)
    return Error(images + ": expected an images file (3 dimensions, magic 0x00000803) but it "
                          "has 1 dimension (a labels file?)");
  if (y->rank() != 1)
    return Error(labels + ": expected a labels file (1 dimension, magic 0x00000801) but it has " +
                 std::to_string(y->rank()) + " dimensions (an images file?)");
  if (isFloat(y->dtype()))
    return Error(labels + ": labels of type " + dtypeName(y->dtype()) +
                 "; IDX labels must be integers (u8 for MNIST)");
  Raw raw;
  raw.xName = images;
  raw.yName = labels;
  raw.format = format + ": " + images + " + " + baseName(labels);
  raw.defaultScale = x->dtype() == DType::U8 ? 1.0 / 255 : 1;
  raw.maxLabel = 9;
  raw.addChannel = x->rank() == 3;
  raw.xNoun = "images";
  raw.x = std::move(x).value();
  raw.y = std::move(y).value();
  return finish(std::move(raw), options);
}

/// An existing file among `dir/name` and `dir/name.gz` for each name; empty if none.
std::string findFile(const std::string &dir, const std::vector<std::string> &names) {
  for (const std::string &name : names)
    for (const char *suffix : {"", ".gz"}) {
      std::string path = join(dir, name + suffix);
      if (exists(path))
        return path;
    }
  return "";
}

/// MNIST IDX files of `split` in `dir`; nullopt when the folder has none.
std::optional<Expected<Dataset>> loadMnistFolder(const std::string &dir, const std::string &split,
                                                 const DatasetOptions &options) {
  auto names = [](const std::string &prefix, const char *kind, const char *idx) {
    return std::vector<std::string>{prefix + kind + "-" + idx + "-ubyte",
                                    prefix + kind + "." + idx + "-ubyte"};
  };
  std::vector<std::string> prefixes = split == "test" ? std::vector<std::string>{"t10k-", "test-"}
                                                      : std::vector<std::string>{"train-"};
  for (const std::string &prefix : prefixes) {
    std::string images = findFile(dir, names(prefix, "images", "idx3"));
    std::string labels = findFile(dir, names(prefix, "labels", "idx1"));
    if (!images.empty() && labels.empty())
      return Expected<Dataset>(Error(join(dir, prefix + "labels-idx1-ubyte") +
                                     "[.gz]: missing (the folder has " + baseName(images) + ")"));
    if (images.empty() && !labels.empty())
      return Expected<Dataset>(Error(join(dir, prefix + "images-idx3-ubyte") +
                                     "[.gz]: missing (the folder has " + baseName(labels) + ")"));
    if (!images.empty())
      return loadIdxPair(images, labels, "MNIST IDX (" + split + ")", options);
  }
  // Files without a split prefix (one split only), e.g. a 10k sample.
  std::string images = findFile(dir, names("", "images", "idx3"));
  std::string labels = findFile(dir, names("", "labels", "idx1"));
  if (images.empty() && labels.empty())
    return std::nullopt;
  if (images.empty() || labels.empty())
    return Expected<Dataset>(Error(images.empty() ? join(dir, "images-idx3-ubyte[.gz]: missing")
                                                  : join(dir, "labels-idx1-ubyte[.gz]: missing")));
  if (split == "test")
    return Expected<Dataset>(Error(dir +
                                   ": no test split: the folder holds one set of IDX files (" +
                                   baseName(images) + ", " + baseName(labels) +
                                   ") without a train-/t10k- prefix; load it with split "
                                   "'train' and hold samples out of it"));
  return loadIdxPair(images, labels, "MNIST IDX", options);
}

Expected<Dataset> loadCifarFiles(const std::vector<std::string> &files, const std::string &format,
                                 const DatasetOptions &options) {
  std::vector<CifarBatch> batches;
  int64_t total = 0;
  for (const std::string &file : files) {
    Expected<CifarBatch> batch = readCifar(file);
    if (!batch)
      return batch.status();
    total += batch->labels.shape()[0];
    batches.push_back(std::move(batch).value());
  }
  Raw raw;
  if (batches.size() == 1) {
    raw.x = std::move(batches[0].images);
    raw.y = std::move(batches[0].labels);
  } else {
    // Concatenate only what `limit` keeps.
    int64_t keep = options.limit > 0 ? std::min(options.limit, total) : total;
    Expected<Array> x = Array::uninitialized(DType::U8, {keep, 32, 32, 3});
    Expected<Array> y = Array::uninitialized(DType::U8, {keep});
    if (!x || !y)
      return Error(files[0] + ": " + (x ? y.message() : x.message()));
    int64_t at = 0;
    for (const CifarBatch &b : batches) {
      int64_t take = std::min(b.labels.shape()[0], keep - at);
      std::memcpy(x->bytes() + size_t(at) * 3072, b.images.bytes(), size_t(take) * 3072);
      std::memcpy(y->bytes() + at, b.labels.bytes(), size_t(take));
      at += take;
    }
    raw.x = std::move(x).value();
    raw.y = std::move(y).value();
  }
  raw.xName = raw.yName = files[0];
  std::string list = files[0];
  if (files.size() > 1)
    list += " ... " + baseName(files.back()) + " (" + std::to_string(files.size()) + " files)";
  raw.format = format + ": " + list;
  raw.defaultScale = 1.0 / 255;
  raw.maxLabel = 9;
  raw.total = total;
  raw.xNoun = "images";
  return finish(std::move(raw), options);
}

std::optional<Expected<Dataset>> loadCifarFolder(std::string dir, const std::string &split,
                                                 const DatasetOptions &options) {
  if (!exists(join(dir, "data_batch_1.bin")) && !exists(join(dir, "test_batch.bin")) &&
      isDirectory(join(dir, "cifar-10-batches-bin")))
    dir = join(dir, "cifar-10-batches-bin");
  std::vector<std::string> files;
  if (split == "test") {
    if (exists(join(dir, "test_batch.bin")))
      files.push_back(join(dir, "test_batch.bin"));
    else if (exists(join(dir, "data_batch_1.bin")))
      return Expected<Dataset>(Error(join(dir, "test_batch.bin") + ": missing (split 'test')"));
  } else {
    std::vector<int> found;
    for (int i = 1; i <= 5; ++i)
      if (exists(join(dir, "data_batch_" + std::to_string(i) + ".bin")))
        found.push_back(i);
    for (size_t k = 0; k < found.size(); ++k)
      if (found[k] != int(k) + 1)
        return Expected<Dataset>(Error(join(dir, "data_batch_" + std::to_string(k + 1) + ".bin") +
                                       ": missing (data_batch_" + std::to_string(found[k]) +
                                       ".bin exists)"));
    for (int i : found)
      files.push_back(join(dir, "data_batch_" + std::to_string(i) + ".bin"));
    if (files.empty() && exists(join(dir, "test_batch.bin")))
      return Expected<Dataset>(Error(join(dir, "data_batch_1.bin") +
                                     ": missing (split 'train'; the folder has test_batch.bin)"));
  }
  if (files.empty())
    return std::nullopt;
  return loadCifarFiles(files, "CIFAR-10 (" + split + ")", options);
}

Expected<Dataset> loadNpz(const std::string &path, const std::string &split,
                          const DatasetOptions &options) {
  Expected<ArrayList> arrays = readNpz(path);
  if (!arrays)
    return arrays.status();
  std::vector<std::pair<const char *, const char *>> candidates;
  if (split == "test")
    candidates = {{"x_test", "y_test"}};
  else
    candidates = {{"x_train", "y_train"}, {"x", "y"}};
  for (auto [xn, yn] : candidates) {
    Array *x = findArray(*arrays, xn);
    Array *y = findArray(*arrays, yn);
    if (!x && !y)
      continue;
    if (!x || !y)
      return Error(path + ": array '" + (x ? yn : xn) + "' is missing (the archive has '" +
                   (x ? xn : yn) + "')");
    Raw raw;
    raw.xName = path + ": array '" + xn + "'";
    raw.yName = path + ": array '" + yn + "'";
    raw.format = ".npz: " + path + " (" + xn + ", " + yn + ")";
    raw.x = std::move(*x);
    raw.y = std::move(*y);
    return finish(std::move(raw), options);
  }
  std::string names;
  for (size_t i = 0; i < arrays->size() && i < 12; ++i)
    names += (i ? ", '" : "'") + (*arrays)[i].name + "'";
  if (arrays->empty())
    names = "no arrays";
  return Error(path + ": no arrays " +
               (split == "test" ? std::string("'x_test' and 'y_test' (split 'test')")
                                : std::string("'x' and 'y' (nor 'x_train' and 'y_train')")) +
               "; it holds " + names);
}

Expected<Dataset> loadNpyPair(const std::string &xPath, const std::string &yPath,
                              const DatasetOptions &options) {
  Expected<Array> x = readNpy(xPath);
  if (!x)
    return x.status();
  Expected<Array> y = readNpy(yPath);
  if (!y)
    return y.status();
  Raw raw;
  raw.xName = xPath;
  raw.yName = yPath;
  raw.format = ".npy: " + xPath + " + " + baseName(yPath);
  raw.x = std::move(x).value();
  raw.y = std::move(y).value();
  return finish(std::move(raw), options);
}

Expected<Dataset> loadCsv(const std::string &path, const DatasetOptions &options) {
  CsvOptions csv;
  csv.labelColumn = options.labelColumn;
  csv.header = options.csvHeader;
  Expected<CsvTable> table = readCsv(path, csv);
  if (!table)
    return table.status();
  Raw raw;
  raw.xName = raw.yName = path;
  raw.format = "CSV: " + path + " (label column " + std::to_string(table->labelIndex) +
               (table->columns.empty() ? "" : " '" + table->columns[table->labelIndex] + "'") +
               (table->columns.empty() ? ", no header" : "") + ")";
  raw.x = std::move(table->features);
  raw.y = std::move(table->labels);
  return finish(std::move(raw), options);
}

/// The IDX file paired with `path` by name (images <-> labels); empty if none.
std::string idxPartner(const std::string &path) {
  std::string dir = path.substr(0, path.size() - baseName(path).size());
  std::string base = baseName(path);
  const std::pair<const char *, const char *> swaps[] = {{"images-idx3", "labels-idx1"},
                                                         {"images.idx3", "labels.idx1"},
                                                         {"labels-idx1", "images-idx3"},
                                                         {"labels.idx1", "images.idx3"}};
  for (auto [from, to] : swaps) {
    size_t at = base.find(from);
    if (at == std::string::npos)
      continue;
    std::string stem = base.substr(0, at) + to + base.substr(at + std::strlen(from));
    if (endsWith(stem, ".gz"))
      stem.resize(stem.size() - 3);
    std::string found = findFile(dir.empty() ? "." : dir, {stem});
    if (!found.empty())
      return dir.empty() ? found.substr(2) : found;
  }
  return "";
}

const char *kSupported =
    "supported: a folder of MNIST IDX files or CIFAR-10 batches, 'images,labels' (IDX), "
    "'x.npy,y.npy', .npz (x, y), a CIFAR-10 .bin batch, .csv";

Expected<Dataset> loadFile(const std::string &path, const std::string &split,
                           const DatasetOptions &options) {
  bool gzip = false;
  Expected<std::vector<uint8_t>> head = fileHead(path, &gzip);
  if (!head)
    return head.status();
  const std::vector<uint8_t> &h = *head;
  if (h.size() >= 6 && std::memcmp(h.data(), "\x93NUMPY", 6) == 0 && !gzip)
    return Error(path + ": a single .npy file holds only one array; give the inputs and the "
                        "labels as 'x.npy,y.npy'");
  if (h.size() >= 4 && h[0] == 'P' && h[1] == 'K' && !gzip)
    return loadNpz(path, split, options);
  if (looksLikeIdx(h.data(), h.size())) {
    std::string partner = idxPartner(path);
    if (partner.empty())
      return Error(path + ": an IDX file holds only images or only labels; give both as "
                          "'images,labels', or the folder that holds them");
    bool labelsFirst = h[3] == 1;
    return loadIdxPair(labelsFirst ? partner : path, labelsFirst ? path : partner, "MNIST IDX",
                       options);
  }
  if (endsWith(path, ".bin"))
    return loadCifarFiles({path}, "CIFAR-10", options);
  if (endsWith(path, ".csv") || endsWith(path, ".tsv") || endsWith(path, ".txt"))
    return loadCsv(path, options);
  if (gzip)
    return Error(path + ": gzip-compressed, and not an IDX file (" + kSupported + ")");
  if (h.size() >= 9 && h[8] == '{')
    return Error(path + ": .safetensors holds parameters, not training data (" + kSupported + ")");
  return Error(path + ": unrecognised training data (" + kSupported + ")");
}

} // namespace

Expected<Dataset> loadDataset(const std::string &path, const DatasetOptions &options) {
  std::string split = options.split.empty() ? "train" : options.split;
  if (split != "train" && split != "test")
    return Error("split '" + options.split + "': expected 'train' or 'test'");
  if (!(options.scale >= 0) || std::isinf(options.scale))
    return Error("scale " + std::to_string(options.scale) +
                 ": expected a finite number > 0 (or 0 for the format's default)");
  if (options.oneHot < 0)
    return Error("oneHot " + std::to_string(options.oneHot) +
                 ": expected a class count > 0 (or 0)");
  if (options.limit < 0)
    return Error("limit " + std::to_string(options.limit) +
                 ": expected a count > 0 (or 0 for all)");
  if (path.empty())
    return Error("no training data path given");

  if (!exists(path) && path.find(',') != std::string::npos) {
    size_t comma = path.find(',');
    std::string first = path.substr(0, comma), second = path.substr(comma + 1);
    if (second.find(',') != std::string::npos)
      return Error(path + ": expected two comma-separated files ('x.npy,y.npy' or "
                          "'images,labels'), found more");
    if (first.empty() || second.empty())
      return Error(path + ": expected two comma-separated files ('x.npy,y.npy' or "
                          "'images,labels')");
    bool gz1 = false, gz2 = false;
    Expected<std::vector<uint8_t>> h1 = fileHead(first, &gz1);
    if (!h1)
      return h1.status();
    Expected<std::vector<uint8_t>> h2 = fileHead(second, &gz2);
    if (!h2)
      return h2.status();
    auto isNpy = [](const std::vector<uint8_t> &h, bool gz) {
      return !gz && h.size() >= 6 && std::memcmp(h.data(), "\x93NUMPY", 6) == 0;
    };
    if (isNpy(*h1, gz1) && isNpy(*h2, gz2))
      return loadNpyPair(first, second, options);
    bool idx1 = looksLikeIdx(h1->data(), h1->size()), idx2 = looksLikeIdx(h2->data(), h2->size());
    if (idx1 && idx2) {
      // Labels files have rank 1: accept either order.
      bool swap = (*h1)[3] == 1 && (*h2)[3] != 1;
      return loadIdxPair(swap ? second : first, swap ? first : second, "MNIST IDX", options);
    }
    const std::string &bad = (isNpy(*h1, gz1) || idx1) ? second : first;
    return Error(bad + ": expected a .npy or IDX file like its partner in '" + path +
                 "' (pairs: 'x.npy,y.npy' or 'images,labels' in IDX)");
  }
  if (isDirectory(path)) {
    if (auto mnist = loadMnistFolder(path, split, options))
      return std::move(*mnist);
    if (auto cifar = loadCifarFolder(path, split, options))
      return std::move(*cifar);
    return Error(
        path + ": no training data found in this folder: expected MNIST IDX files (" +
        std::string(split == "test" ? "t10k" : "train") + "-images-idx3-ubyte[.gz] and " +
        (split == "test" ? "t10k" : "train") + "-labels-idx1-ubyte[.gz]) or CIFAR-10 batches (" +
        (split == "test" ? "test_batch.bin" : "data_batch_1.bin ... data_batch_5.bin") + ")");
  }
  return loadFile(path, split, options);
}

} // namespace kiln::io
