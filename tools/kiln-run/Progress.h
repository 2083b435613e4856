//===- Progress.h - Keras-style progress output for kiln-run fit -*- C++ -*-===//
//
//   Epoch 3/5
//   125/125 [==============================] - 12s 96ms/step - loss: 0.1234 - accuracy: 0.9612
//
// On a terminal the bar is redrawn in place (\r) after each batch, with an
// ETA, at most every 0.1 s; elsewhere (a pipe, a file) each epoch prints its
// "Epoch" line and its final line only. Metric names are shown as Keras
// shows them (displayName).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace kiln::tool {

/// The name Keras shows for a compiled model's output: "loss"; "accuracy" for
/// any "*accuracy" (binary_, categorical_, sparse_categorical_); "mse", "mae",
/// "mape", "msle" for the error metrics; "val_" prefixes kept.
std::string displayName(const std::string &name);

/// Named values under their display names, in order.
using Metrics = std::vector<std::pair<std::string, double>>;
Metrics displayMetrics(const kiln_metric *metrics, size_t count);

/// " - loss: 0.1234 - accuracy: 0.9612" (Keras: %.4f, or %.4e below 1e-3).
std::string formatMetrics(const Metrics &metrics);
/// "12s", "1:05", "1:02:03" (an ETA), as Keras writes them.
std::string formatEta(double seconds);
/// "96ms/step", "2s/step", "850us/step".
std::string formatPerStep(double secondsPerStep);
/// "125/125 [==============================]", "37/125 [=======>......................]".
std::string formatBar(int64_t step, int64_t steps);

class ProgressBar {
public:
  /// `out`: the stream (stdout, or stderr when stdout carries --json);
  /// `terminal`: redraw in place (isatty).
  ProgressBar(std::FILE *out, bool terminal);
  /// A kiln_fit progress report (batch or epoch end).
  void report(const kiln_progress &p);
  /// A line of its own ("Epoch 7: early stopping"), after any bar in progress.
  void line(const std::string &text);

private:
  void draw(const std::string &text, bool final);
  std::FILE *out_;
  bool terminal_;
  int64_t epoch_ = -1;      // the epoch whose "Epoch" line was printed
  size_t width_ = 0;        // of the line drawn in place (to blank it out)
  double lastDraw_ = -1;    // seconds into the epoch of the last redraw
  bool open_ = false;       // a bar is drawn without its newline yet
  int columns_ = 0;         // terminal width (0: unknown)
};

} // namespace kiln::tool
