// websocket_chat.hpp: the chat protocol of the WebSocket chat example, apart from its sockets,
// so that the server (websocket_chat.cpp), the load client (websocket_chat_client.cpp) and the
// frame-path fuzz target (test/fuzz/websocket_frame_fuzz.cpp) share it: what a client's text
// message asks for, the names a room or a nick may have, and the lines the server sends.
//
// Every function here takes any bytes (empty, huge, invalid UTF-8) and never crashes; what it
// sends back to a client is valid UTF-8 whenever the client's text was (the only bytes copied
// from the input are a say's text, a nick or a room name, the last two ASCII by validation).
// Standard library only: no Asio, no Zokio.
#ifndef ZOKIO_EXAMPLE_WEBSOCKET_CHAT_HPP
#define ZOKIO_EXAMPLE_WEBSOCKET_CHAT_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat {

/// Longest nick or room name.
inline constexpr std::size_t max_name = 32;

/// A nick or a room name: 1 to 32 characters of [A-Za-z0-9_-].
inline bool valid_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > max_name) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/// The room an upgrade request's target names: "/room/NAME" (a query string is ignored), or
/// nothing for any other target or an invalid name.
inline std::optional<std::string_view> room_from_target(std::string_view target) noexcept {
  constexpr std::string_view prefix = "/room/";
  const std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with(prefix)) return std::nullopt;
  const std::string_view name = path.substr(prefix.size());
  if (!valid_name(name)) return std::nullopt;
  return name;
}

/// What one text message from a client asks for.
struct command {
  enum kind_t {
    say,     ///< arg: the text to broadcast (never empty)
    nick,    ///< arg: the new nick (valid_name)
    rooms,   ///< list the rooms and their member counts
    help,    ///< list the commands
    quit,    ///< arg: an optional reason (may be empty); the server closes with 1000
    error,   ///< reply: what to answer the client (ASCII)
    ignore,  ///< an empty message: nothing to do
  };
  kind_t kind = ignore;
  std::string_view arg;  ///< a view into the parsed message (say, nick, quit)
  std::string reply;     ///< the answer for `error`
};

namespace detail {
inline bool blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}
}  // namespace detail

/**
 * Parses one text message from a client:
 *   - empty: ignore;
 *   - not starting with '/': say (the text as sent, spaces included);
 *   - "//text": say "/text" (a text that starts with a slash);
 *   - "/nick NAME": nick, NAME trimmed of blanks and checked by valid_name (else an error);
 *   - "/rooms", "/help": rooms, help (an argument is an error);
 *   - "/quit [reason]": quit;
 *   - any other "/word": error "unknown command" (the word is echoed only when it is a valid
 *     name, so that an answer never carries arbitrary bytes).
 * Linear in the message's size; allocates only for an error's text.
 */
inline command parse_client_message(std::string_view msg) {
  command c;
  if (msg.empty()) return c;
  if (msg.front() != '/') {
    c.kind = command::say;
    c.arg = msg;
    return c;
  }
  if (msg.starts_with("//")) {
    c.kind = command::say;
    c.arg = msg.substr(1);
    return c;
  }
  std::size_t end = 1;
  while (end < msg.size() && !detail::blank(msg[end])) ++end;
  const std::string_view word = msg.substr(1, end - 1);
  const std::string_view rest = detail::trim(msg.substr(end));
  auto fail = [&c](std::string text) {
    c.kind = command::error;
    c.reply = std::move(text);
    return c;
  };
  if (word == "nick") {
    if (rest.empty()) return fail("usage: /nick NAME");
    if (!valid_name(rest)) return fail("invalid nick: 1 to 32 characters of A-Z a-z 0-9 _ -");
    c.kind = command::nick;
    c.arg = rest;
    return c;
  }
  if (word == "rooms" || word == "help") {
    if (!rest.empty()) return fail(std::string("usage: /").append(word));
    c.kind = word == "rooms" ? command::rooms : command::help;
    return c;
  }
  if (word == "quit") {
    c.kind = command::quit;
    c.arg = rest;
    return c;
  }
  if (word.empty()) return fail("empty command (try /help)");
  if (valid_name(word)) return fail(std::string("unknown command: /").append(word).append(" (try /help)"));
  return fail("unknown command (try /help)");
}

// The lines the server sends. Broadcast to a room: a say "NICK: text" and the notices
// "* NICK joined", "* NICK left", "* OLD is now NEW". To one client only: "* ..." answers
// (welcome, rooms, help) and "! ..." errors. A nick never contains ':', ' ', '*' or '!', so
// split_say() tells a say from the rest.

inline std::string format_say(std::string_view nick, std::string_view text) {
  std::string s;
  s.reserve(nick.size() + 2 + text.size());
  return s.append(nick).append(": ").append(text);
}
inline std::string format_joined(std::string_view nick) { return std::string("* ").append(nick).append(" joined"); }
inline std::string format_left(std::string_view nick) { return std::string("* ").append(nick).append(" left"); }
inline std::string format_renamed(std::string_view from, std::string_view to) {
  return std::string("* ").append(from).append(" is now ").append(to);
}
inline std::string format_welcome(std::string_view room, std::string_view nick, std::size_t members) {
  return std::string("* welcome to ")
      .append(room)
      .append(", you are ")
      .append(nick)
      .append(" (")
      .append(std::to_string(members))
      .append(members == 1 ? " member)" : " members)");
}
/// "* rooms: a (2), b (1)" for (name, members) pairs, in the order given.
inline std::string format_rooms(const std::vector<std::pair<std::string, std::size_t>>& rooms) {
  std::string s = "* rooms:";
  for (std::size_t i = 0; i < rooms.size(); ++i) {
    s.append(i ? ", " : " ").append(rooms[i].first).append(" (").append(std::to_string(rooms[i].second)).append(")");
  }
  return s;
}
inline std::string format_help() {
  return "* commands: /nick NAME, /rooms, /help, /quit [reason]; other text is sent to the room "
         "(//text sends /text)";
}
inline std::string format_error(std::string_view text) { return std::string("! ").append(text); }

/// A say line split into (nick, text); nothing for a notice, an error or a malformed line.
inline std::optional<std::pair<std::string_view, std::string_view>> split_say(std::string_view line) noexcept {
  const std::size_t colon = line.find(": ");
  if (colon == std::string_view::npos || !valid_name(line.substr(0, colon))) return std::nullopt;
  return std::pair{line.substr(0, colon), line.substr(colon + 2)};
}

}  // namespace chat

#endif
