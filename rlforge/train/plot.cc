#include "rlforge/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/env/image_io.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

struct Series {
  std::vector<double> x, y;
  int64_t skipped = 0;  // non-finite values left out
};

bool IsRatingMetric(const std::string& metric) { return metric == "rating" || metric == "rating_conservative"; }

// The ratings.csv rows (a self-play run's) whose player starts with
// `prefix`: x timesteps, y mu (rating) or mu - 3 sigma (rating_conservative).
Series ReadRatings(const std::string& dir, const std::string& metric, const std::string& prefix) {
  const std::string path = dir + "/ratings.csv";
  std::ifstream f(path);
  RLF_CHECK_ARG(f.good(), "'", dir, "' has no ratings.csv (written by self-play runs, config key self_play, "
                             "that play rating games: rating_games > 0)");
  std::string line;
  std::getline(f, line);
  RLF_CHECK_ARG(line.rfind("iteration,timesteps,player,mu,sigma,conservative", 0) == 0, path,
                " does not start with rlforge's ratings header");
  Series s;
  while (std::getline(f, line)) {
    std::vector<std::string> cells;
    std::stringstream rs(line);
    for (std::string c; std::getline(rs, c, ',');) cells.push_back(c);
    if (cells.size() < 6 || cells[2].rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    const double x = std::strtod(cells[1].c_str(), &end);
    const std::string& yc = cells[metric == "rating" ? 3 : 5];
    char* yend = nullptr;
    const double y = std::strtod(yc.c_str(), &yend);
    RLF_CHECK_ARG(*end == '\0' && *yend == '\0' && std::isfinite(y), path, ": row '", line, "' is not numbers");
    s.x.push_back(x);
    s.y.push_back(y);
  }
  return s;
}

// "eval/<column>" names a column of evaluations.csv (the TensorBoard tag of
// the periodic evaluations); other metrics progress.csv's columns.
constexpr char kEvalPrefix[] = "eval/";
bool IsEvalMetric(const std::string& metric) { return metric.rfind(kEvalPrefix, 0) == 0; }
std::string CsvName(const std::string& metric) { return IsEvalMetric(metric) ? "evaluations.csv" : "progress.csv"; }

Series ReadSeries(const std::string& dir, const std::string& metric_name) {
  if (IsRatingMetric(metric_name)) return ReadRatings(dir, metric_name, "snapshot:");
  const bool eval = IsEvalMetric(metric_name);
  const std::string metric = eval ? metric_name.substr(sizeof(kEvalPrefix) - 1) : metric_name;
  const std::string path = dir + "/" + CsvName(metric_name);
  std::ifstream f(path);
  RLF_CHECK_ARG(f.good() || !eval || !fs::exists(dir + "/progress.csv"), "'", dir,
                "' has no evaluations.csv (written by runs with periodic evaluations: config key eval_interval > 0)");
  RLF_CHECK_ARG(f.good(), "'", dir, "' is not a run directory (no progress.csv)");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) header.push_back(c);
  const auto xi = std::find(header.begin(), header.end(), "timesteps") - header.begin();
  const auto yi = std::find(header.begin(), header.end(), metric) - header.begin();
  RLF_CHECK_ARG(xi < static_cast<long>(header.size()), path, " has no 'timesteps' column");
  if (yi >= static_cast<long>(header.size())) {
    std::vector<std::string> names;  // as --metric takes them
    for (const auto& h : header)
      if (h != "timesteps") names.push_back(eval ? kEvalPrefix + h : h);
    throw InvalidArgument(StrCat(path, " has no '", metric, "' column; metrics it offers: ", Join(names, ", "),
                                 eval ? "" : " (and eval/<column> for evaluations.csv's",
                                 eval || !fs::exists(dir + "/ratings.csv") ? "" : "; rating, rating_conservative",
                                 eval ? "" : ")"));
  }
  Series s;
  int64_t cut = 0;
  while (std::getline(f, line)) {
    // A row with another number of cells than the header is one a kill cut
    // short (or an edit broke): its values may be partial, so it is left out.
    if (std::count(line.begin(), line.end(), ',') + 1 != static_cast<long>(header.size())) {
      ++cut;
      continue;
    }
    std::vector<std::string> cells;
    std::stringstream rs(line);
    for (std::string c; std::getline(rs, c, ',');) cells.push_back(c);
    if (static_cast<long>(cells.size()) <= std::max(xi, yi) || cells[yi].empty()) continue;
    char* end = nullptr;
    const double x = std::strtod(cells[xi].c_str(), &end);
    RLF_CHECK_ARG(end && *end == '\0' && !cells[xi].empty(), path, ": timesteps '", cells[xi], "' is not a number");
    const double y = std::strtod(cells[yi].c_str(), &end);
    RLF_CHECK_ARG(end && *end == '\0', path, ": ", metric, " '", cells[yi], "' is not a number");
    if (!std::isfinite(y)) {  // inf or nan: not drawable (it blanked the whole plot)
      ++s.skipped;
      continue;
    }
    s.x.push_back(x);
    s.y.push_back(y);
  }
  if (s.skipped > 0)
    Warn(StrCat(path, ": ", s.skipped, " non-finite '", metric, "' values (inf or nan) are left out of the plot"));
  if (cut > 0)
    Warn(StrCat(path, ": ", cut, " rows without one cell per column (cut short) are left out of the plot"));
  return s;
}

// config.yaml without the seed line: runs that differ only in seed group together.
std::string GroupKey(const std::string& dir) {
  std::ifstream f(dir + "/config.yaml");
  std::string key, line;
  while (std::getline(f, line))
    if (line.rfind("seed:", 0) != 0 && line.rfind("total_steps:", 0) != 0) key += line + "\n";
  return key;
}

std::string ConfigValue(const std::string& dir, const std::string& name) {
  std::ifstream f(dir + "/config.yaml");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(name + ":", 0) != 0) continue;
    std::string v = line.substr(name.size() + 1);
    if (const size_t hash = v.find(" #"); hash != std::string::npos) v = v.substr(0, hash);
    v.erase(0, v.find_first_not_of(' '));
    v.erase(v.find_last_not_of(' ') + 1);
    return v;
  }
  return "?";
}

double Interpolate(const Series& s, double x) {
  if (x <= s.x.front()) return s.y.front();
  if (x >= s.x.back()) return s.y.back();
  const size_t k = std::upper_bound(s.x.begin(), s.x.end(), x) - s.x.begin();
  const double t = (x - s.x[k - 1]) / (s.x[k] - s.x[k - 1]);
  return s.y[k - 1] + t * (s.y[k] - s.y[k - 1]);
}

double NiceStep(double range, int ticks) {
  const double raw = range / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

const Rgb kColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                       {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};

}  // namespace

// `v` is a multiple of the tick step `step`: rounding to it removes the
// accumulated error (and the sign of a negative zero, which printed "-0").
std::string TickLabel(double v, double step) {
  v = std::round(v / step) * step;
  if (v == 0) v = 0.0;
  char buf[32];
  if (std::abs(v) >= 1e6) std::snprintf(buf, sizeof(buf), "%gM", v / 1e6);
  else if (std::abs(v) >= 1e4) std::snprintf(buf, sizeof(buf), "%gk", v / 1e3);
  else std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::vector<Curve> LoadCurves(const std::vector<std::string>& run_dirs, const std::string& metric) {
  RLF_CHECK_ARG(!run_dirs.empty(), "give at least one run directory");
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> groups;
  std::set<std::string> seen;
  for (const auto& d : run_dirs) {
    RLF_CHECK_ARG(fs::is_directory(d), "'", d, "' is not a directory");
    // The same run twice would count as two seeds of the mean and spread.
    RLF_CHECK_ARG(seen.insert(fs::weakly_canonical(d).string()).second, "run directory '", d, "' is given twice");
    const std::string key = GroupKey(d);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(d);
  }
  // Config lines that not every group shares tell the groups apart in
  // their labels (e.g. "rnn_type: none").
  auto lines_of = [](const std::string& key) {
    std::vector<std::string> out;
    std::stringstream ks(key);
    for (std::string line; std::getline(ks, line);) {
      if (const size_t hash = line.find(" #"); hash != std::string::npos) line = line.substr(0, hash);
      line.erase(line.find_last_not_of(' ') + 1);
      if (!line.empty() && line[0] != ' ' && line[0] != '#') out.push_back(line);
    }
    return out;
  };
  std::map<std::string, int> shared;
  for (const auto& key : order)
    for (const auto& line : lines_of(key)) ++shared[line];
  std::vector<Curve> curves;
  for (const auto& key : order) {
    const auto& dirs = groups[key];
    std::vector<Series> runs;
    for (const auto& d : dirs) {
      runs.push_back(ReadSeries(d, metric));
      RLF_CHECK_ARG(!runs.back().x.empty(), d, "/",
                    IsRatingMetric(metric) ? "ratings.csv has no snapshot ratings"
                                           : StrCat(CsvName(metric), " has no finite '", metric, "' values"),
                    runs.back().skipped ? " (only inf or nan)"
                    : !fs::exists(d + "/eval.json") ? " yet"
                    : metric == "ep_return_mean"
                        ? " (the run is finished: agents that play no episodes while training, the offline and "
                          "language-model ones, leave it empty; choose a column with --metric)"
                        : " (the run is finished)");
    }
    Curve c;
    c.runs = static_cast<int>(runs.size());
    std::set<std::string> seeds;
    for (const auto& d : dirs) seeds.insert(ConfigValue(d, "seed"));
    c.label = ConfigValue(dirs[0], "algo") + " " + ConfigValue(dirs[0], "env") +
              (c.runs == 1 ? StrCat(" (seed ", ConfigValue(dirs[0], "seed"), ")")
               : static_cast<int>(seeds.size()) == c.runs ? StrCat(" (", c.runs, " seeds)")
                                                          : StrCat(" (", c.runs, " runs of ", seeds.size(),
                                                                   seeds.size() == 1 ? " seed)" : " seeds)"));
    int shown = 0;
    for (const auto& line : lines_of(key))
      if (shared[line] < static_cast<int>(order.size()) && shown < 2 && line.rfind("algo:", 0) != 0 &&
          line.rfind("env:", 0) != 0)
        c.label += ", " + line, ++shown;
    if (runs.size() == 1) {
      c.x = runs[0].x;
      c.mean = c.low = c.high = runs[0].y;
    } else {
      double x_end = runs[0].x.back(), x_start = runs[0].x.front();
      for (const auto& r : runs) x_end = std::min(x_end, r.x.back()), x_start = std::max(x_start, r.x.front());
      for (int k = 0; k <= 200; ++k) {
        const double x = x_start + (x_end - x_start) * k / 200.0;
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        for (const auto& r : runs) {
          const double y = Interpolate(r, x);
          sum += y;
          lo = std::min(lo, y);
          hi = std::max(hi, y);
        }
        c.x.push_back(x);
        c.mean.push_back(sum / runs.size());
        c.low.push_back(lo);
        c.high.push_back(hi);
      }
    }
    curves.push_back(std::move(c));
  }
  if (IsRatingMetric(metric)) {
    // The reference bots of the first run, as flat lines across the plot.
    double x0 = INFINITY, x1 = -INFINITY;
    for (const auto& c : curves) x0 = std::min(x0, c.x.front()), x1 = std::max(x1, c.x.back());
    const Series bots = ReadRatings(run_dirs[0], metric, "bot:");
    std::ifstream f(run_dirs[0] + "/ratings.csv");
    std::vector<std::string> names;
    for (std::string line; std::getline(f, line);) {
      std::stringstream rs(line);
      std::string cell;
      for (int k = 0; k < 3; ++k) std::getline(rs, cell, ',');
      if (cell.rfind("bot:", 0) == 0) names.push_back(cell);
    }
    for (size_t k = 0; k < bots.y.size() && k < names.size(); ++k) {
      Curve c;
      c.label = names[k];
      c.x = {x0, x1};
      c.mean = c.low = c.high = {bots.y[k], bots.y[k]};
      curves.push_back(std::move(c));
    }
  }
  return curves;
}

namespace {

// The plot area in pixels and the data range it shows.
struct Frame {
  double left, right, top, bottom;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
  double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};

Frame MakeFrame(const std::vector<Curve>& curves, const PlotOptions& o) {
  Frame f{80, o.width - 20.0, 50, o.height - 60.0};
  for (const auto& c : curves) {
    for (size_t k = 0; k < c.x.size(); ++k) {
      f.x0 = std::min(f.x0, c.x[k]), f.x1 = std::max(f.x1, c.x[k]);
      f.y0 = std::min(f.y0, c.low[k]), f.y1 = std::max(f.y1, c.high[k]);
    }
  }
  if (f.x1 <= f.x0) f.x1 = f.x0 + 1;
  if (f.y1 <= f.y0) f.y1 = f.y0 + 1;
  f.x0 = std::min(f.x0, 0.0);
  const double pad = 0.05 * (f.y1 - f.y0);
  f.y0 -= pad, f.y1 += pad;
  return f;
}

LegendBox PlaceLegendIn(const Frame& f, const std::vector<Curve>& curves) {
  double widest = 0;
  for (const auto& c : curves) widest = std::max(widest, TextWidth(c.label, 1.6));
  const double w = 52 + widest, h = 10 + 22.0 * curves.size();
  const std::pair<double, double> corners[] = {{f.left + 6, f.top + 6},
                                               {f.right - 6 - w, f.top + 6},
                                               {f.left + 6, f.bottom - 6 - h},
                                               {f.right - 6 - w, f.bottom - 6 - h}};
  LegendBox best{corners[0].first, corners[0].second, w, h};
  int64_t best_hidden = -1;
  for (const auto& [cx, cy] : corners) {
    int64_t hidden = 0;  // points every ~2 pixels along the curves under the box
    for (const auto& c : curves)
      for (size_t k = 1; k < c.x.size(); ++k) {
        const double ax = f.px(c.x[k - 1]), ay = f.py(c.mean[k - 1]), bx = f.px(c.x[k]), by = f.py(c.mean[k]);
        if (std::max(ax, bx) < cx || std::min(ax, bx) > cx + w || std::max(ay, by) < cy || std::min(ay, by) > cy + h)
          continue;  // the segment's bounding box misses the box
        const int n = 1 + static_cast<int>(std::min(2000.0, std::hypot(bx - ax, by - ay) / 2));
        for (int t = 0; t < n; ++t) {
          const double x = ax + (bx - ax) * t / n, y = ay + (by - ay) * t / n;
          hidden += x >= cx && x <= cx + w && y >= cy && y <= cy + h;
        }
      }
    if (best_hidden < 0 || hidden < best_hidden) best_hidden = hidden, best.x = cx, best.y = cy;
  }
  return best;
}

}  // namespace

LegendBox PlaceLegend(const std::vector<Curve>& curves, const PlotOptions& options) {
  return PlaceLegendIn(MakeFrame(curves, options), curves);
}

Image PlotCurves(const std::vector<Curve>& curves, const PlotOptions& o) {
  Image img(o.width, o.height, {255, 255, 255});
  const Frame frame = MakeFrame(curves, o);
  const double left = frame.left, right = frame.right, top = frame.top, bottom = frame.bottom;
  const double x0 = frame.x0, x1 = frame.x1, y0 = frame.y0, y1 = frame.y1;
  auto px = [&](double x) { return frame.px(x); };
  auto py = [&](double y) { return frame.py(y); };
  const Rgb grid{225, 225, 225}, axis{60, 60, 60};
  const double xs = NiceStep(x1 - x0, 8), ys = NiceStep(y1 - y0, 6);
  for (double v = std::ceil(x0 / xs) * xs; v <= x1 + 1e-9; v += xs) {
    img.DrawLine(px(v), top, px(v), bottom, 1, grid);
    const std::string t = TickLabel(v, xs);
    DrawText(&img, px(v) - TextWidth(t, 1.5) / 2, bottom + 8, t, axis, 1.5);
  }
  for (double v = std::ceil(y0 / ys) * ys; v <= y1 + 1e-9; v += ys) {
    img.DrawLine(left, py(v), right, py(v), 1, grid);
    const std::string t = TickLabel(v, ys);
    DrawText(&img, left - 8 - TextWidth(t, 1.5), py(v) - 5, t, axis, 1.5);
  }
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    const Rgb col = kColors[i % 8];
    if (c.runs > 1) {
      const Rgb light{static_cast<uint8_t>((col.r + 3 * 255) / 4), static_cast<uint8_t>((col.g + 3 * 255) / 4),
                      static_cast<uint8_t>((col.b + 3 * 255) / 4)};
      for (size_t k = 1; k < c.x.size(); ++k)
        img.FillPolygon({{px(c.x[k - 1]), py(c.low[k - 1])}, {px(c.x[k]), py(c.low[k])},
                         {px(c.x[k]), py(c.high[k])}, {px(c.x[k - 1]), py(c.high[k - 1])}},
                        light);
    }
  }
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    for (size_t k = 1; k < c.x.size(); ++k)
      img.DrawLine(px(c.x[k - 1]), py(c.mean[k - 1]), px(c.x[k]), py(c.mean[k]), 2.5, kColors[i % 8]);
  }
  // Legend, on white over the curves (drawn after all of them, so that no
  // later curve crosses an earlier label), in the corner of the plot that
  // hides the least of them: always top-left hid a solved curve's plateau.
  if (!curves.empty()) {
    const LegendBox box = PlaceLegendIn(frame, curves);
    img.FillRect(box.x, box.y, box.x + box.width, box.y + box.height, {255, 255, 255});
    for (size_t i = 0; i < curves.size(); ++i) {
      const double ly = box.y + 6 + 22 * i;
      img.DrawLine(box.x + 8, ly + 5, box.x + 38, ly + 5, 3, kColors[i % 8]);
      DrawText(&img, box.x + 46, ly, curves[i].label, axis, 1.6);
    }
  }
  img.DrawLine(left, bottom, right, bottom, 1.5, axis);
  img.DrawLine(left, top, left, bottom, 1.5, axis);
  DrawText(&img, (left + right) / 2 - TextWidth("environment steps", 1.6) / 2, bottom + 32, "environment steps", axis,
           1.6);
  const std::string title = o.title.empty() ? o.metric : o.title;
  DrawText(&img, (left + right) / 2 - TextWidth(title, 2.2) / 2, 16, title, axis, 2.2);
  return img;
}

}  // namespace rlforge
