// Guide example: join, join_all, select, race and try_join (doc/combinators.md).
#include <zokio/zokio.hpp>
#include <zokio/join.hpp>
#include <zokio/join_all.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/try_join.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

zokio::task<int> fetch(int id, std::chrono::milliseconds latency) {
  co_await zokio::sleep(latency);
  co_return id * 10;
}

zokio::task<boost::system::result<int>> checked(int id) {
  co_await zokio::sleep(1ms);
  if (id < 0) co_return boost::system::result<int>(boost::system::in_place_error,
                                                   boost::system::errc::make_error_code(
                                                       boost::system::errc::invalid_argument));
  co_return id;
}

zokio::task<int> guide() {
  // join: all of them, concurrently, in this task; a tuple of the outputs.
  auto [a, b] = co_await zokio::join(fetch(1, 5ms), fetch(2, 3ms));

  // join_all: a run-time number of futures of one type; a vector of outputs, in order.
  std::vector<zokio::task<int>> many;
  for (int i = 0; i < 5; ++i) many.push_back(fetch(i, 1ms));
  std::vector<int> all = co_await zokio::join_all(std::move(many));

  // select: the first to complete wins; the others are destroyed (cancelled) at once.
  auto first = co_await zokio::select(fetch(3, 50ms), zokio::sleep(2ms));
  bool timer_won = first.index() == 1;

  // race: the same for futures of one output type.
  int fastest = co_await zokio::race(fetch(4, 20ms), fetch(5, 1ms));

  // try_join: results; the first error cancels the rest.
  auto ok = co_await zokio::try_join(checked(1), checked(2));
  auto bad = co_await zokio::try_join(checked(1), checked(-1));

  std::printf("join %d %d, join_all size %zu, select index %zu, race %d, try_join %s / %s\n", a,
              b, all.size(), first.index(), fastest, ok ? "ok" : "error",
              bad ? "ok" : bad.error().message().c_str());
  co_return a == 10 && b == 20 && all.size() == 5 && timer_won && fastest == 50 && ok && !bad
      ? 0 : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(rt.spawn(guide()));
}
