// Small fast PRNG for choosing steal victims.
#ifndef ZOKIO_DETAIL_XORSHIFT_HPP
#define ZOKIO_DETAIL_XORSHIFT_HPP

#include <cstdint>

namespace zokio::detail {

class xorshift32 {
 public:
  explicit xorshift32(std::uint32_t seed) noexcept : s_(seed ? seed : 0x9e3779b9u) {}
  std::uint32_t next() noexcept {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 17;
    s_ ^= s_ << 5;
    return s_;
  }
  /// Uniform enough in [0, n) for victim selection (Lemire's multiply-shift).
  std::uint32_t next_below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{next()} * n) >> 32);
  }

 private:
  std::uint32_t s_;
};

}  // namespace zokio::detail

#endif
