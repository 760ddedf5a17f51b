// zokio::process::exit_status: how a child process ended (its exit code, or the signal that
// ended it), from the raw waitpid status.
#ifndef ZOKIO_PROCESS_EXIT_STATUS_HPP
#define ZOKIO_PROCESS_EXIT_STATUS_HPP

#include <optional>

#include <sys/wait.h>

namespace zokio::process {

/// How a child ended (Tokio's ExitStatus).
struct exit_status {
  int raw = 0;  ///< the waitpid status

  /// Exited with code 0.
  bool success() const noexcept { return code() == 0; }
  /// The exit code, if it exited (not killed by a signal).
  std::optional<int> code() const noexcept {
    if (WIFEXITED(raw)) return WEXITSTATUS(raw);
    return std::nullopt;
  }
  /// The signal that ended it, if one did.
  std::optional<int> signal() const noexcept {
    if (WIFSIGNALED(raw)) return WTERMSIG(raw);
    return std::nullopt;
  }
};

}  // namespace zokio::process

#endif
