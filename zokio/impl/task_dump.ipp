// The bodies of task_dump (zokio/task_dump.hpp): counting await points and the text and JSON
// forms.
#ifndef ZOKIO_IMPL_TASK_DUMP_IPP
#define ZOKIO_IMPL_TASK_DUMP_IPP

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>

#include <zokio/task_dump.hpp>

namespace zokio {

namespace detail {
inline void append_location(std::string& out, const source_location& l) {
  out += *l.file_name() ? l.file_name() : "?";
  out += ':';
  out += std::to_string(l.line());
}

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;  // UTF-8 passes through
        }
    }
  }
  out += '"';
}

inline void append_json_location(std::string& out, const source_location& l) {
  out += "{\"file\":";
  append_json_string(out, l.file_name());
  out += ",\"line\":";
  out += std::to_string(l.line());
  out += '}';
}
}  // namespace detail

ZOKIO_DECL const char* to_string(task_status s) noexcept {
  switch (s) {
    case task_status::queued: return "queued";
    case task_status::running: return "running";
    case task_status::waiting: return "waiting";
  }
  return "?";
}

ZOKIO_DECL std::vector<await_point_count> task_dump::await_points() const {
  // Keyed by file name text and line: the same point may come through different pointers
  // (one per translation unit that inlined the await).
  std::map<std::pair<std::string_view, std::uint_least32_t>, await_point_count> by;
  for (const auto& t : tasks) {
    if (t.awaiting.empty()) continue;
    const source_location& l = t.awaiting.front();
    auto& c = by[{l.file_name(), l.line()}];
    c.at = l;
    ++c.tasks;
  }
  std::vector<await_point_count> out;
  out.reserve(by.size());
  for (auto& [k, c] : by) out.push_back(c);
  std::stable_sort(out.begin(), out.end(),
                   [](const await_point_count& a, const await_point_count& b) { return a.tasks > b.tasks; });
  return out;
}

ZOKIO_DECL std::size_t task_dump::count(task_status s) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(tasks.begin(), tasks.end(), [s](const task_snapshot& t) { return t.status == s; }));
}

ZOKIO_DECL std::string task_dump::to_text() const {
  std::string out = "zokio task dump: " + std::to_string(tasks.size()) + " live tasks (" +
                    std::to_string(count(task_status::running)) + " running, " +
                    std::to_string(count(task_status::queued)) + " queued, " +
                    std::to_string(count(task_status::waiting)) + " waiting)\n";
  if (unlisted != 0)
    out += std::to_string(unlisted) + " more tasks were spawned while the registry was out of memory\n";
  const auto points = await_points();
  if (!points.empty()) {
    out += "waiting at (innermost await point, tasks):\n";
    for (const auto& p : points) {
      out += "  ";
      detail::append_location(out, p.at);
      out += "  " + std::to_string(p.tasks) + '\n';
    }
  }
  for (const auto& t : tasks) {
    out += "task " + std::to_string(t.id.value());
    if (!t.name.empty()) out += " \"" + t.name + '"';
    out += std::string(", ") + to_string(t.status);
    if (t.since_poll) {
      out += t.status == task_status::running ? ", polled for " : ", last polled ";
      out += std::to_string(t.since_poll->count()) + " ms";
      if (t.status != task_status::running) out += " ago";
    } else {
      out += ", never polled";
    }
    out += ", spawned at ";
    detail::append_location(out, t.spawned_at);
    out += '\n';
    for (const auto& l : t.awaiting) {
      out += "    at ";
      detail::append_location(out, l);
      out += '\n';
    }
  }
  return out;
}

ZOKIO_DECL std::string task_dump::to_json() const {
  std::string out = "{\"tasks\":[";
  bool first = true;
  for (const auto& t : tasks) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":" + std::to_string(t.id.value()) + ",\"name\":";
    detail::append_json_string(out, t.name);
    out += ",\"spawned_at\":";
    detail::append_json_location(out, t.spawned_at);
    out += ",\"status\":\"";
    out += to_string(t.status);
    out += "\",\"since_poll_ms\":";
    out += t.since_poll ? std::to_string(t.since_poll->count()) : "null";
    out += ",\"awaiting\":[";
    for (std::size_t i = 0; i < t.awaiting.size(); ++i) {
      if (i) out += ',';
      detail::append_json_location(out, t.awaiting[i]);
    }
    out += "]}";
  }
  out += "],\"await_points\":[";
  first = true;
  for (const auto& p : await_points()) {
    if (!first) out += ',';
    first = false;
    out += "{\"at\":";
    detail::append_json_location(out, p.at);
    out += ",\"tasks\":" + std::to_string(p.tasks) + '}';
  }
  out += "]";
  if (unlisted != 0) out += ",\"unlisted\":" + std::to_string(unlisted);
  out += '}';
  return out;
}

}  // namespace zokio

#endif
