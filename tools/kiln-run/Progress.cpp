//===- Progress.cpp - Keras-style progress output for kiln-run fit --------===//
#include "Progress.h"

#include <cmath>
#include <sys/ioctl.h>
#include <unistd.h>

namespace kiln::tool {

namespace {
bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string printf1(const char *format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}
} // namespace

std::string displayName(const std::string &name) {
  std::string prefix = name.rfind("val_", 0) == 0 ? "val_" : "";
  std::string base = name.substr(prefix.size());
  if (endsWith(base, "accuracy"))
    base = "accuracy";
  else if (base == "mean_squared_error")
    base = "mse";
  else if (base == "mean_absolute_error")
    base = "mae";
  else if (base == "mean_absolute_percentage_error")
    base = "mape";
  else if (base == "mean_squared_logarithmic_error")
    base = "msle";
  return prefix + base;
}

Metrics displayMetrics(const kiln_metric *metrics, size_t count) {
  Metrics out;
  for (size_t i = 0; i < count; ++i)
    out.push_back({displayName(metrics[i].name ? metrics[i].name : "?"), metrics[i].value});
  // Two outputs with one display name (say binary_ and categorical_accuracy):
  // keep their own names.
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = i + 1; j < out.size(); ++j)
      if (out[i].first == out[j].first) {
        out[i].first = metrics[i].name;
        out[j].first = metrics[j].name;
      }
  return out;
}

std::string formatMetrics(const Metrics &metrics) {
  std::string s;
  for (const auto &[name, value] : metrics)
    s += " - " + name + ": " + printf1(std::fabs(value) > 1e-3 || !std::isfinite(value) ? "%.4f" : "%.4e", value);
  return s;
}

std::string formatEta(double seconds) {
  long long t = std::isfinite(seconds) && seconds > 0 ? (long long)seconds : 0;
  char buffer[64];
  if (t > 3600)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", t / 3600, (t % 3600) / 60, t % 60);
  else if (t > 60)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", t / 60, t % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%llds", t);
  return buffer;
}

std::string formatPerStep(double s) {
  if (s >= 1 || s == 0)
    return printf1("%.0fs/step", s);
  if (s >= 1e-3)
    return printf1("%.0fms/step", s * 1e3);
  return printf1("%.0fus/step", s * 1e6);
}

std::string formatBar(int64_t step, int64_t steps) {
  constexpr int kWidth = 30;
  std::string digits = std::to_string(steps);
  std::string current = std::to_string(step);
  std::string s = std::string(digits.size() > current.size() ? digits.size() - current.size() : 0, ' ') + current +
                  "/" + digits + " [";
  int done = steps > 0 ? int(kWidth * double(step) / double(steps)) : kWidth;
  done = std::min(std::max(done, 0), kWidth);
  if (done > 0) {
    s += std::string(done - 1, '=');
    s += step < steps ? '>' : '=';
  }
  s += std::string(kWidth - done, '.');
  return s + "]";
}

ProgressBar::ProgressBar(std::FILE *out, bool terminal) : out_(out), terminal_(terminal) {
  if (terminal_) {
    winsize ws{};
    if (ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
      columns_ = ws.ws_col;
  }
}

void ProgressBar::draw(const std::string &text, bool final) {
  if (!terminal_) {
    std::fprintf(out_, "%s\n", text.c_str());
    std::fflush(out_);
    return;
  }
  std::string shown = text;
  // A line wider than the terminal wraps, and \r would return to its last
  // row only: cut intermediate lines to the width (the final one is whole).
  if (!final && columns_ > 1 && shown.size() >= size_t(columns_))
    shown.resize(size_t(columns_) - 1);
  std::string padding = width_ > shown.size() ? std::string(width_ - shown.size(), ' ') : "";
  std::fprintf(out_, "\r%s%s%s", shown.c_str(), padding.c_str(), final ? "\n" : "");
  std::fflush(out_);
  width_ = final ? 0 : shown.size();
  open_ = !final;
}

void ProgressBar::line(const std::string &text) {
  if (open_) {
    std::fputc('\n', out_);
    open_ = false;
    width_ = 0;
  }
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void ProgressBar::report(const kiln_progress &p) {
  if (p.epoch != epoch_) {
    line("Epoch " + std::to_string(p.epoch + 1) + "/" + std::to_string(p.epochs));
    epoch_ = p.epoch;
    lastDraw_ = -1;
  }
  Metrics metrics = displayMetrics(p.metrics, p.num_metrics);
  double perStep = p.step > 0 ? p.seconds / double(p.step) : 0;
  if (p.kind == KILN_PROGRESS_EPOCH) {
    // Keras: the epoch's time (with validation) and the time per step.
    double steps = double(std::max<int64_t>(p.steps, 1));
    draw(formatBar(p.steps, p.steps) + " - " + printf1("%.0fs", p.seconds) + " " + formatPerStep(p.seconds / steps) +
             formatMetrics(metrics),
         true);
    return;
  }
  if (!terminal_)
    return; // only the epoch's final line
  bool last = p.step >= p.steps;
  if (!last && lastDraw_ >= 0 && p.seconds - lastDraw_ < 0.1)
    return;
  lastDraw_ = p.seconds;
  std::string info = last ? " - " + printf1("%.0fs", p.seconds) + " " + formatPerStep(perStep)
                          : " - ETA: " + formatEta(perStep * double(p.steps - p.step));
  draw(formatBar(p.step, p.steps) + info + formatMetrics(metrics), false);
}

} // namespace kiln::tool
