// zokio::io codecs for framed_read / framed_write: lines_codec (text lines) and
// length_delimited_codec (a 4-byte big-endian length, then the payload).
#ifndef ZOKIO_IO_CODEC_HPP
#define ZOKIO_IO_CODEC_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include <zokio/error.hpp>

namespace zokio::io {

/*
 * A codec is a class with
 *   using frame = ...;
 *   result<optional<frame>> decode(std::string_view in, std::size_t& used);
 *       a frame from the front of `in` (setting `used` to the bytes it took), nullopt when
 *       it needs more bytes, or an error;
 *   result<optional<frame>> decode_eof(std::string_view in, std::size_t& used);
 *       the same at the end of the stream (what to make of a partial frame);
 *   result<void> encode(const frame& f, std::string& out);  // appends f's bytes to out
 *   std::size_t max_buffer() const;  // the most bytes a reader must hold to decode one frame
 * (tokio-util's Decoder/Encoder, with the buffer as a string_view).
 */

/// Text lines: a frame is a line without "\n" / "\r\n"; the last line may lack one. A line
/// over `max_length` bytes is an error (`errc::line_too_long`), on both sides.
class lines_codec {
 public:
  using frame = std::string;
  explicit lines_codec(std::size_t max_length = 64 * 1024) noexcept : max_(max_length) {}

  boost::system::result<std::optional<frame>> decode(std::string_view in, std::size_t& used) {
    const std::size_t at = in.find('\n', scanned_);
    if (at == std::string_view::npos) {
      scanned_ = in.size();
      if (in.size() > max_ + 1)  // max_ bytes and a '\r' may still be followed by '\n'
        return boost::system::result<std::optional<frame>>(boost::system::in_place_error,
                                                           make_error_code(errc::line_too_long));
      return std::optional<frame>();
    }
    scanned_ = 0;
    used = at + 1;
    std::size_t len = at;
    if (len > 0 && in[len - 1] == '\r') --len;
    if (len > max_)
      return boost::system::result<std::optional<frame>>(boost::system::in_place_error,
                                                         make_error_code(errc::line_too_long));
    return std::optional<frame>(frame(in.substr(0, len)));
  }
  boost::system::result<std::optional<frame>> decode_eof(std::string_view in, std::size_t& used) {
    auto d = decode(in, used);
    if (!d || *d || in.empty()) return d;
    used = in.size();  // the last line, without a newline
    scanned_ = 0;
    return std::optional<frame>(frame(in));
  }
  boost::system::result<void> encode(const frame& line, std::string& out) {
    if (line.size() > max_)
      return boost::system::result<void>(boost::system::in_place_error,
                                         make_error_code(errc::line_too_long));
    out.append(line);
    out.push_back('\n');
    return {};
  }
  std::size_t max_buffer() const noexcept { return max_ + 2; }

 private:
  std::size_t max_;
  std::size_t scanned_ = 0;  // bytes of the current line already searched for '\n'
};

/// Length-delimited frames: a 4-byte big-endian payload length, then the payload (an empty
/// frame is 4 zero bytes). A payload over `max_frame_length` is `errc::frame_too_large`; the
/// stream ending inside a frame is `errc::truncated_frame`.
class length_delimited_codec {
 public:
  using frame = std::string;
  explicit length_delimited_codec(std::size_t max_frame_length = 8 * 1024 * 1024) noexcept
      : max_(max_frame_length) {}

  boost::system::result<std::optional<frame>> decode(std::string_view in, std::size_t& used) {
    if (in.size() < 4) return std::optional<frame>();
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t len = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                            (std::size_t{p[2]} << 8) | std::size_t{p[3]};
    if (len > max_)
      return boost::system::result<std::optional<frame>>(boost::system::in_place_error,
                                                         make_error_code(errc::frame_too_large));
    if (in.size() < 4 + len) return std::optional<frame>();
    used = 4 + len;
    return std::optional<frame>(frame(in.substr(4, len)));
  }
  boost::system::result<std::optional<frame>> decode_eof(std::string_view in, std::size_t& used) {
    auto d = decode(in, used);
    if (!d || *d || in.empty()) return d;
    return boost::system::result<std::optional<frame>>(boost::system::in_place_error,
                                                       make_error_code(errc::truncated_frame));
  }
  boost::system::result<void> encode(const frame& f, std::string& out) {
    if (f.size() > max_ || f.size() > 0xffffffffu)
      return boost::system::result<void>(boost::system::in_place_error,
                                         make_error_code(errc::frame_too_large));
    const auto n = static_cast<std::uint32_t>(f.size());
    const char h[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
    out.append(h, 4);
    out.append(f);
    return {};
  }
  std::size_t max_buffer() const noexcept { return max_ + 4; }

 private:
  std::size_t max_;
};

}  // namespace zokio::io

#endif
