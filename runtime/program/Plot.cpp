//===- runtime/program/Plot.cpp - The training curves as SVG, the epoch lines ===//
//
// d2l's Animator figure of a run (train loss, train acc, test acc per
// epoch), written by `train --plot FILE.svg`; the chapter's epoch line and
// the metrics file (`--metrics`).
//
//===----------------------------------------------------------------------===//
#include "runtime/program/Train.h"
#include "runtime/support/Format.h"

#include <algorithm>
#include <cmath>

namespace ninc::rt {

namespace {

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

/// One curve: its legend label, d2l's style ('-', 'm--', 'g-.') and values.
struct Series {
  const char *label, *color, *dash;
  double EpochMetrics::*value;
};

constexpr Series kSeries[] = {
    {"train loss", "#1f77b4", "", &EpochMetrics::loss},
    {"train acc", "#bf00bf", "8,4", &EpochMetrics::trainAccuracy},
    {"test acc", "#008000", "8,4,2,4", &EpochMetrics::testAccuracy},
};

} // namespace

std::string plotSvg(const std::vector<EpochMetrics> &history, const std::string &title) {
  // Plot area [left, right] x [top, bottom] in a 640x400 picture; epochs
  // 1..max(2, n) across, 0..yMax up (at least 1, the accuracies' range).
  constexpr double kW = 640, kH = 400, left = 60, right = 610, top = 40, bottom = 350;
  const int64_t lastEpoch = std::max<int64_t>(2, history.empty() ? 2 : history.back().epoch);
  double yMax = 1.0;
  for (const EpochMetrics &m : history)
    yMax = std::max(yMax, m.loss);
  yMax = std::ceil(yMax * 2) / 2; // a multiple of 0.5
  auto x = [&](double epoch) { return left + (right - left) * (epoch - 1) / double(lastEpoch - 1); };
  auto y = [&](double v) { return bottom - (bottom - top) * v / yMax; };

  std::string svg = format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
                           "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n",
                           kW, kH, kW, kH);
  svg += format("<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", kW, kH);
  svg += format("<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n",
                (left + right) / 2, xmlEscape("training " + title).c_str());
  // Grid, ticks and labels.
  const int64_t xStep = std::max<int64_t>(1, (lastEpoch + 9) / 10);
  for (int64_t e = 1; e <= lastEpoch; e += xStep)
    svg += format("<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>\n"
                  "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%lld</text>\n",
                  x(e), top, x(e), bottom, x(e), bottom + 16, (long long)e);
  for (int i = 0; i <= 5; ++i) {
    const double v = yMax * i / 5;
    svg += format("<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                  "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                  left, y(v), right, y(v), left - 6, y(v) + 4, v);
  }
  svg += format("<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                "stroke=\"black\"/>\n",
                left, top, right - left, bottom - top);
  svg += format("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">epoch</text>\n",
                (left + right) / 2, bottom + 36);
  // The curves, with a marker per epoch so a single epoch is visible too.
  for (const Series &s : kSeries) {
    std::string points, markers;
    for (const EpochMetrics &m : history) {
      points += format("%.1f,%.1f ", x(double(m.epoch)), y(m.*s.value));
      markers += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        x(double(m.epoch)), y(m.*s.value), s.color);
    }
    if (!points.empty())
      points.pop_back();
    svg += format("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", s.color,
                  *s.dash ? format(" stroke-dasharray=\"%s\"", s.dash).c_str() : "") +
           points + "\"/>\n" + markers;
  }
  // The legend, top right inside the plot.
  const double lx = right - 110, ly = top + 10;
  svg += format("<g class=\"legend\">\n<rect x=\"%g\" y=\"%g\" width=\"100\" height=\"62\" "
                "fill=\"white\" stroke=\"#999\"/>\n",
                lx, ly);
  for (size_t i = 0; i < std::size(kSeries); ++i) {
    const Series &s = kSeries[i];
    const double row = ly + 16 + 18 * double(i);
    svg += format("<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
                  "stroke-width=\"2\"%s/>\n<text x=\"%g\" y=\"%g\">%s</text>\n",
                  lx + 8, row - 4, lx + 32, row - 4, s.color,
                  *s.dash ? format(" stroke-dasharray=\"%s\"", s.dash).c_str() : "", lx + 38,
                  row, s.label);
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

std::string formatEpochLine(const EpochMetrics &m) {
  return format("epoch %lld, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec",
                (long long)m.epoch, m.loss, m.trainAccuracy, m.testAccuracy, m.seconds);
}

std::string formatMetrics(const std::vector<EpochMetrics> &history, bool jsonLines) {
  std::string out = jsonLines ? "" : "epoch,loss,train_acc,test_acc,seconds,images_per_sec\n";
  const char *row = jsonLines
                        ? "{\"epoch\": %lld, \"loss\": %.6f, \"train_acc\": %.6f, \"test_acc\": "
                          "%.6f, \"seconds\": %.3f, \"images_per_sec\": %.1f}\n"
                        : "%lld,%.6f,%.6f,%.6f,%.3f,%.1f\n";
  for (const EpochMetrics &m : history)
    out += format(row, (long long)m.epoch, m.loss, m.trainAccuracy, m.testAccuracy, m.seconds,
                  m.imagesPerSecond);
  return out;
}

} // namespace ninc::rt
