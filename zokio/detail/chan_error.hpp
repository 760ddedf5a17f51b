// Channel error codes (zokio::channel_errc) and the error types that hand an unsent value
// back (send_error<T>) or report how many messages a broadcast receiver missed (recv_error).
#ifndef ZOKIO_DETAIL_CHAN_ERROR_HPP
#define ZOKIO_DETAIL_CHAN_ERROR_HPP

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace zokio {

/// Why a channel operation did not deliver a value.
enum class channel_errc {
  closed = 1,  ///< the other side is gone (or the channel was closed)
  full,        ///< try_send on a bounded channel at capacity
  empty,       ///< try_recv found nothing (the channel is still open)
  lagged,      ///< a broadcast receiver fell behind; older messages were overwritten
};

namespace detail {
class channel_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "zokio.channel"; }
  std::string message(int ev) const override {
    switch (static_cast<channel_errc>(ev)) {
      case channel_errc::closed: return "channel closed";
      case channel_errc::full: return "channel full";
      case channel_errc::empty: return "channel empty";
      case channel_errc::lagged: return "receiver lagged behind; messages were skipped";
    }
    return "unknown channel error";
  }
};
}  // namespace detail

inline const boost::system::error_category& channel_category() noexcept {
  static const detail::channel_category_impl cat;
  return cat;
}

inline boost::system::error_code make_error_code(channel_errc e) noexcept {
  return {static_cast<int>(e), channel_category()};
}

inline std::ostream& operator<<(std::ostream& os, channel_errc e) {
  return os << make_error_code(e).message();
}

/// A send that failed: why (closed or full) and the value, handed back to the caller.
template <class T>
struct send_error {
  channel_errc reason;
  T value;

  send_error(channel_errc r, T v) : reason(r), value(std::move(v)) {}
  boost::system::error_code code() const noexcept { return make_error_code(reason); }
};

/**
 * The outcome of a send: success, or a send_error<T> holding the unsent value. (Not
 * `boost::system::result<void, send_error<T>>`: in Boost 1.81 its error() copies and needs a
 * default-constructible error, which a move-only T such as unique_ptr cannot give.)
 */
template <class T>
class [[nodiscard]] send_result {
 public:
  send_result() noexcept = default;  ///< success
  send_result(channel_errc reason, T v) : err_(std::in_place, reason, std::move(v)) {}

  bool has_value() const noexcept { return !err_; }
  bool has_error() const noexcept { return err_.has_value(); }
  explicit operator bool() const noexcept { return !err_; }

  /// Precondition: has_error().
  send_error<T>& error() & noexcept { return *err_; }
  const send_error<T>& error() const& noexcept { return *err_; }
  send_error<T>&& error() && noexcept { return std::move(*err_); }

  /// Throws boost::system::system_error(reason) when the send failed.
  void value() const {
    if (err_) boost::throw_exception(boost::system::system_error(err_->code()));
  }

 private:
  std::optional<send_error<T>> err_;
};

/// A receive that failed: closed, or lagged by `skipped` messages (broadcast).
struct recv_error {
  channel_errc reason;
  std::uint64_t skipped = 0;

  boost::system::error_code code() const noexcept { return make_error_code(reason); }
  bool operator==(const recv_error&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const recv_error& e) {
    os << e.reason;
    if (e.reason == channel_errc::lagged) os << " (" << e.skipped << " skipped)";
    return os;
  }

  [[noreturn]] friend void throw_exception_from_error(const recv_error& e,
                                                      const boost::source_location& loc) {
    boost::throw_exception(boost::system::system_error(e.code()), loc);
  }
};

}  // namespace zokio

namespace boost::system {
template <>
struct is_error_code_enum<zokio::channel_errc> : std::true_type {};
}  // namespace boost::system

#endif
