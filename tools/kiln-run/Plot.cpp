//===- Plot.cpp - kiln-run fit --plot: training curves as a hand-written SVG ===//
//
// One panel for the loss and one for accuracy (or, without it, the model's
// first other metric); each shows training (solid, blue) and validation
// (dashed, orange) per epoch, with ticked and labelled axes, a grid and a
// legend. Plain SVG 1.1: no scripts, no external fonts or styles.
//
//===----------------------------------------------------------------------===//
#include "History.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kiln::tool {

namespace {

std::string fmt(const char *format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}
/// Coordinates with two decimals.
std::string xy(double v) { return fmt("%.2f", v); }

std::string xmlEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '&': out += "&amp;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

/// 1, 2 or 5 times a power of ten, near range / target.
double niceStep(double range, int target) {
  double raw = range / target;
  if (!(raw > 0) || !std::isfinite(raw))
    return 1;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
}

/// A tick label with as many decimals as the step needs.
std::string tickLabel(double v, double step) {
  int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  if (std::fabs(v) < step * 1e-6)
    v = 0;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", std::min(decimals, 10), v);
  return buffer;
}

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points; // (epoch, value), finite values only
  const char *color;
  bool dashed;
};

/// One panel at (x0, y0), w x h, the plot area inside margins.
std::string panel(double x0, double y0, double w, double h, const std::string &metric,
                  const std::vector<Series> &series, bool unitRange) {
  const double left = 72, right = 20, top = 36, bottom = 52;
  const double px = x0 + left, py = y0 + top, pw = w - left - right, ph = h - top - bottom;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const Series &s : series)
    for (auto [x, y] : s.points) {
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  std::string svg;
  svg += "<text x=\"" + xy(px) + "\" y=\"" + xy(y0 + 22) + "\" font-size=\"15\" font-weight=\"bold\">" +
         xmlEscape(metric) + "</text>\n";
  svg += "<rect x=\"" + xy(px) + "\" y=\"" + xy(py) + "\" width=\"" + xy(pw) + "\" height=\"" + xy(ph) +
         "\" fill=\"#ffffff\" stroke=\"#444444\"/>\n";
  if (!(xmin <= xmax)) { // no finite value at all
    svg += "<text x=\"" + xy(px + pw / 2) + "\" y=\"" + xy(py + ph / 2) +
           "\" text-anchor=\"middle\" fill=\"#888888\">no finite values</text>\n";
    return svg;
  }
  // Ranges: epochs (whole numbers) and values, rounded out to ticks.
  if (xmax - xmin < 1)
    xmin -= 1, xmax += 1;
  double xstep = std::max(1.0, std::round(niceStep(xmax - xmin, 8)));
  double firstTick = xmin, lastTick = xmax;
  double xpad = 0.03 * (xmax - xmin); // markers clear of the frame
  xmin -= xpad, xmax += xpad;
  if (ymax - ymin < 1e-12 * std::max(1.0, std::fabs(ymax))) {
    double pad = std::max(std::fabs(ymax) * 0.1, 1e-3);
    ymin -= pad, ymax += pad;
  } else {
    double pad = 0.03 * (ymax - ymin);
    ymin -= pad, ymax += pad;
  }
  double ystep = niceStep(ymax - ymin, 5);
  ymin = std::floor(ymin / ystep) * ystep;
  ymax = std::ceil(ymax / ystep) * ystep;
  if (unitRange) {
    ymin = std::max(ymin, 0.0);
    ymax = std::min(ymax, 1.0);
    if (ymax <= ymin)
      ymin = 0, ymax = 1, ystep = 0.2;
  }
  auto X = [&](double x) { return px + (x - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return py + ph - (y - ymin) / (ymax - ymin) * ph; };

  // Grid and ticks.
  for (double t = std::ceil(firstTick / xstep) * xstep; t <= lastTick + 1e-9; t += xstep) {
    svg += "<line x1=\"" + xy(X(t)) + "\" y1=\"" + xy(py) + "\" x2=\"" + xy(X(t)) + "\" y2=\"" + xy(py + ph) +
           "\" stroke=\"#e4e4e4\"/>\n";
    svg += "<text x=\"" + xy(X(t)) + "\" y=\"" + xy(py + ph + 18) + "\" text-anchor=\"middle\">" +
           tickLabel(t, 1) + "</text>\n";
  }
  for (int i = 0;; ++i) {
    double t = ymin + i * ystep;
    if (t > ymax + ystep * 1e-6)
      break;
    svg += "<line x1=\"" + xy(px) + "\" y1=\"" + xy(Y(t)) + "\" x2=\"" + xy(px + pw) + "\" y2=\"" + xy(Y(t)) +
           "\" stroke=\"#e4e4e4\"/>\n";
    svg += "<text x=\"" + xy(px - 8) + "\" y=\"" + xy(Y(t) + 4) + "\" text-anchor=\"end\">" +
           tickLabel(t, ystep) + "</text>\n";
  }
  svg += "<rect x=\"" + xy(px) + "\" y=\"" + xy(py) + "\" width=\"" + xy(pw) + "\" height=\"" + xy(ph) +
         "\" fill=\"none\" stroke=\"#444444\"/>\n";
  // Axis titles.
  svg += "<text x=\"" + xy(px + pw / 2) + "\" y=\"" + xy(y0 + h - 12) + "\" text-anchor=\"middle\">epoch</text>\n";
  svg += "<text transform=\"translate(" + xy(x0 + 18) + "," + xy(py + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xmlEscape(metric) + "</text>\n";

  // The curves, with a marker per epoch.
  for (const Series &s : series) {
    if (s.points.empty())
      continue;
    std::string dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
    if (s.points.size() > 1) {
      svg += "<polyline fill=\"none\" stroke=\"" + std::string(s.color) + "\" stroke-width=\"2\"" + dash +
             " points=\"";
      for (size_t i = 0; i < s.points.size(); ++i)
        svg += (i ? " " : "") + xy(X(s.points[i].first)) + "," + xy(Y(s.points[i].second));
      svg += "\"/>\n";
    }
    for (auto [x, y] : s.points)
      svg += "<circle cx=\"" + xy(X(x)) + "\" cy=\"" + xy(Y(y)) + "\" r=\"3\" fill=\"" + s.color + "\"><title>" +
             xmlEscape(s.label) + ", epoch " + tickLabel(x, 1) + ": " + fmt("%.6g", y) + "</title></circle>\n";
  }
  // Legend: above the plot area, right-aligned, one entry after the other.
  double lx = px + pw;
  for (size_t i = series.size(); i-- > 0;) {
    const Series &s = series[i];
    if (s.points.empty())
      continue;
    double textWidth = 7.0 * double(s.label.size()); // 12px sans-serif, roughly
    lx -= textWidth;
    svg += "<text x=\"" + xy(lx) + "\" y=\"" + xy(y0 + 22) + "\">" + xmlEscape(s.label) + "</text>\n";
    svg += "<line x1=\"" + xy(lx - 34) + "\" y1=\"" + xy(y0 + 18) + "\" x2=\"" + xy(lx - 6) + "\" y2=\"" +
           xy(y0 + 18) + "\" stroke=\"" + s.color + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + "/>\n";
    svg += "<circle cx=\"" + xy(lx - 20) + "\" cy=\"" + xy(y0 + 18) + "\" r=\"3\" fill=\"" + s.color + "\"/>\n";
    lx -= 34 + 18;
  }
  return svg;
}

} // namespace

io::Status writePlot(const std::string &path, const History &history, const std::string &title) {
  std::vector<std::string> columns = history.columns();
  // The panels: loss, then accuracy or the first other training metric.
  std::vector<std::string> metrics{"loss"};
  std::string second;
  for (const std::string &c : columns)
    if (c == "accuracy")
      second = c;
  for (const std::string &c : columns)
    if (second.empty() && c != "loss" && c.rfind("val_", 0) != 0)
      second = c;
  if (!second.empty())
    metrics.push_back(second);

  const double w = 480, h = 360, header = 34;
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + xy(w * metrics.size()) +
         "\" height=\"" + xy(h + header) + "\" viewBox=\"0 0 " + xy(w * metrics.size()) + " " + xy(h + header) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" fill=\"#222222\">\n";
  svg += "<title>" + xmlEscape(title) + ": training history</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"" + xy(w * metrics.size() / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">" +
         xmlEscape(title) + " (" + std::to_string(history.epochs.size()) +
         (history.epochs.size() == 1 ? " epoch" : " epochs") + ")</text>\n";
  for (size_t m = 0; m < metrics.size(); ++m) {
    std::vector<Series> series{{"training", {}, "#1f77b4", false}, {"validation", {}, "#ff7f0e", true}};
    for (const EpochRecord &e : history.epochs)
      for (const auto &[name, value] : e.metrics) {
        if (!std::isfinite(value))
          continue;
        if (name == metrics[m])
          series[0].points.push_back({double(e.epoch), value});
        else if (name == "val_" + metrics[m])
          series[1].points.push_back({double(e.epoch), value});
      }
    bool unit = metrics[m] == "accuracy";
    svg += "<g>\n" + panel(w * m, header, w, h, metrics[m], series, unit) + "</g>\n";
  }
  svg += "</svg>\n";
  return writeTextFile(path, svg);
}

} // namespace kiln::tool
