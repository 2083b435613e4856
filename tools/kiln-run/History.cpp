//===- History.cpp - per-epoch metrics of kiln-run fit: CSV and JSON ------===//
#include "History.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace kiln::tool {

std::vector<std::string> History::columns() const {
  std::vector<std::string> names;
  for (const EpochRecord &e : epochs)
    for (const auto &[name, value] : e.metrics)
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
  return names;
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buffer[64];
  for (int digits = 6; digits <= 17; ++digits) { // the shortest text that reads back exactly
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
    if (std::strtod(buffer, nullptr) == v)
      break;
  }
  return buffer;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string jsonObject(const Metrics &metrics, const std::vector<std::string> &extra) {
  std::string s = "{";
  bool first = true;
  for (const std::string &member : extra) {
    s += (first ? "" : ", ") + member;
    first = false;
  }
  for (const auto &[name, value] : metrics) {
    s += (first ? "" : ", ") + jsonString(name) + ": " + jsonNumber(value);
    first = false;
  }
  return s + "}";
}

io::Status writeTextFile(const std::string &path, const std::string &text) {
  std::string temp = path + ".tmp" + std::to_string(getpid());
  std::FILE *f = std::fopen(temp.c_str(), "wb");
  if (!f)
    return io::Error(path + ": cannot write: " + std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  int savedErrno = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(temp.c_str());
    return io::Error(path + ": cannot write: " + std::strerror(savedErrno ? savedErrno : errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(temp.c_str());
    return io::Error(path + ": cannot write: " + std::strerror(e));
  }
  return io::Status::success();
}

namespace {
std::string csvNumber(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  return jsonNumber(v);
}
const double *find(const Metrics &metrics, const std::string &name) {
  for (const auto &[n, v] : metrics)
    if (n == name)
      return &v;
  return nullptr;
}
} // namespace

io::Status writeHistoryCsv(const std::string &path, const History &history) {
  std::vector<std::string> columns = history.columns();
  std::string text = "epoch";
  for (const std::string &c : columns)
    text += "," + c;
  text += ",seconds\n";
  for (const EpochRecord &e : history.epochs) {
    text += std::to_string(e.epoch);
    for (const std::string &c : columns) {
      const double *v = find(e.metrics, c);
      text += "," + (v ? csvNumber(*v) : std::string());
    }
    text += "," + csvNumber(e.seconds) + "\n";
  }
  return writeTextFile(path, text);
}

io::Status writeHistoryJson(const std::string &path, const History &history) {
  std::string text = "[";
  for (size_t i = 0; i < history.epochs.size(); ++i) {
    const EpochRecord &e = history.epochs[i];
    Metrics withTime = e.metrics;
    withTime.push_back({"seconds", e.seconds});
    text += (i ? ",\n " : "\n ") + jsonObject(withTime, {"\"epoch\": " + std::to_string(e.epoch)});
  }
  text += history.epochs.empty() ? "]\n" : "\n]\n";
  return writeTextFile(path, text);
}

} // namespace kiln::tool
