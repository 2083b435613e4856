//===- History.h - per-epoch metrics of kiln-run fit: CSV, JSON, SVG -*- C++ -*-===//
//
// --history PREFIX writes PREFIX.csv (a header, then one row per epoch) and
// PREFIX.json (an array of one object per epoch); --plot FILE.svg draws loss
// and accuracy (or the model's first other metric) per epoch, training and
// validation, as a self-contained SVG. --json prints one object of the
// final epoch's metrics. Non-finite values: "nan"/"inf" in CSV, null in JSON.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Progress.h"
#include "runtime/io/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::tool {

struct EpochRecord {
  int64_t epoch;  ///< 1-based, as "Epoch N/M" shows it
  double seconds; ///< the epoch's time, validation included
  Metrics metrics;
};

struct History {
  std::vector<EpochRecord> epochs;
  /// Metric names in first-seen order (loss, accuracy, val_loss, val_accuracy).
  std::vector<std::string> columns() const;
};

/// A JSON number (17 significant digits, shortest form) or null when not finite.
std::string jsonNumber(double v);
/// A JSON string literal.
std::string jsonString(const std::string &s);
/// {"loss": 0.1, "accuracy": 0.9} plus `extra` members ("\"epochs\": 5").
std::string jsonObject(const Metrics &metrics, const std::vector<std::string> &extra = {});

io::Status writeHistoryCsv(const std::string &path, const History &history);
io::Status writeHistoryJson(const std::string &path, const History &history);
/// `title`: the model's name.
io::Status writePlot(const std::string &path, const History &history, const std::string &title);

/// Writes `text` to `path` (through a temporary file renamed into place).
io::Status writeTextFile(const std::string &path, const std::string &text);

} // namespace kiln::tool
