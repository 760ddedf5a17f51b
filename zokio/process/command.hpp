// zokio::process::command: what to run and how (Tokio's Command): program, arguments,
// environment, working directory, stdio; spawn() a child, or output()/status() to run it to
// the end. On Boost.Process v2, driven by the runtime's workers.
#ifndef ZOKIO_PROCESS_COMMAND_HPP
#define ZOKIO_PROCESS_COMMAND_HPP

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/process/v2.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <zokio/detail/current_executor.hpp>
#include <zokio/executor.hpp>
#include <zokio/io/read_write.hpp>
#include <zokio/join.hpp>
#include <zokio/process/child.hpp>
#include <zokio/process/exit_status.hpp>
#include <zokio/task.hpp>

#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace zokio::process {

/// What a child's stdin, stdout or stderr is connected to.
enum class stdio {
  inherit,  ///< this process's own (the default)
  piped,    ///< a pipe: child::in, out or err
  null,     ///< /dev/null
};

/// What output() collected.
struct output {
  exit_status status;
  std::string out;  ///< everything it wrote to stdout
  std::string err;  ///< everything it wrote to stderr
};

/**
 * A command to run: `zokio::process::command("sort").arg("-r").std_in(stdio::piped).spawn()`.
 * A program without a '/' is looked up in PATH. Copyable; spawn() may be called again.
 */
class command {
 public:
  explicit command(std::string program) : program_(std::move(program)) {}

  command& arg(std::string a) {
    args_.push_back(std::move(a));
    return *this;
  }
  template <class Range>
  command& args(const Range& r) {
    for (const auto& a : r) args_.emplace_back(a);
    return *this;
  }
  /// Sets `key` in the child's environment (the rest is inherited).
  command& env(std::string key, std::string value) {
    env_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  command& current_dir(std::string dir) {
    dir_ = std::move(dir);
    return *this;
  }
  command& std_in(stdio s) {
    in_ = s;
    return *this;
  }
  command& std_out(stdio s) {
    out_ = s;
    return *this;
  }
  command& std_err(stdio s) {
    err_ = s;
    return *this;
  }

  /// Starts the child on the calling thread's runtime (a worker or a block_on; errc::no_runtime
  /// elsewhere). Throws system_error when it cannot start (program not found, not
  /// executable, a bad directory, fork failed).
  child spawn() const { return spawn(detail::current_executor()); }
  /// The same on `ex`'s runtime, from any thread.
  child spawn(zokio::executor ex) const {
    namespace bp = boost::process::v2;
    const bp::filesystem::path exe = program_.find('/') != std::string::npos
                                         ? bp::filesystem::path(program_)
                                         : bp::environment::find_executable(program_);
    if (exe.empty())
      throw boost::system::system_error(
          std::make_error_code(std::errc::no_such_file_or_directory),
          "zokio::process: " + program_ + " not found in PATH");
    std::optional<child::writable_pipe> in;
    std::optional<child::readable_pipe> out, err;
    if (in_ == stdio::piped) in.emplace(ex);
    if (out_ == stdio::piped) out.emplace(ex);
    if (err_ == stdio::piped) err.emplace(ex);
    bp::process_stdio io{binding<bp::detail::process_input_binding>(in_, in),
                         binding<bp::detail::process_output_binding>(out_, out),
                         binding<bp::detail::process_error_binding>(err_, err)};
    // Boost's launcher calls notify_fork on its executor's io_context around fork(); on a
    // worker's io_context, which a worker thread is running, that would rebuild the reactor
    // under it (and in the child, unwound into the caller's stack, it hung the child). So it
    // gets an io_context of its own, never run, and the child's handle is remade on `ex`.
    boost::asio::io_context launch_ctx;
    auto launch = [&](auto&&... more) {
      return bp::process(launch_ctx.get_executor(), exe, args_, io, more...);
    };
    env_init env(env_.empty() ? std::vector<std::string>() : environment());
    bp::process p = dir_.empty() ? launch(env) : launch(env, bp::process_start_dir(dir_));
    const int pid = p.id();
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      const int e = errno;
      p.terminate();  // kill and reap it: there is no way to watch it
      throw boost::system::system_error(e, boost::system::system_category(), "zokio::process: pidfd_open");
    }
    p.detach();  // the launcher's handle goes (closing its own pidfd); ours watches from now
    child c(child::handle_type(ex, pid, pidfd));
    c.in = std::move(in);
    c.out = std::move(out);
    c.err = std::move(err);
    return c;
  }

  /// Runs it to the end with stdout and stderr collected (stdin: /dev/null), like Tokio's
  /// Command::output. At most `limit` bytes of each are kept (errc::buffer_full beyond).
  zokio::task<boost::system::result<output>> collect_output(
      std::size_t limit = std::numeric_limits<std::size_t>::max()) const {
    command c = *this;
    c.in_ = stdio::null;
    c.out_ = c.err_ = stdio::piped;
    child ch = c.spawn();
    output o;
    auto [ro, re] = co_await zokio::join(io::read_to_end(*ch.out, o.out, limit),
                                         io::read_to_end(*ch.err, o.err, limit));
    if (!ro) co_return boost::system::result<output>(boost::system::in_place_error, ro.error());
    if (!re) co_return boost::system::result<output>(boost::system::in_place_error, re.error());
    auto st = co_await ch.wait();
    if (!st) co_return boost::system::result<output>(boost::system::in_place_error, st.error());
    o.status = *st;
    co_return o;
  }

  /// Runs it to the end with the stdio as set, and reports how it ended.
  zokio::task<boost::system::result<exit_status>> status() const {
    child ch = spawn();
    co_return co_await ch.wait();
  }

 private:
  // The stdio binding for one stream: the pipe's other end (piped), /dev/null, or ours.
  template <class Binding, class Pipe>
  static Binding binding(stdio s, std::optional<Pipe>& pipe) {
    if (s == stdio::piped) return Binding(*pipe);
    // Not Binding(nullptr): with boost::filesystem 1.81 that overload set is ambiguous here.
    if (s == stdio::null) return Binding(boost::process::v2::filesystem::path("/dev/null"));
    return Binding();
  }
  // The child's environment, as Boost.Process's process_environment sets it (launcher.env);
  // not that one itself: in Boost 1.81 its on_setup is compiled only with the separately built
  // library, which header-only use does not link. No variables: the child inherits ours.
  struct env_init {
    std::vector<std::string> vars;
    std::vector<const char*> ptrs;
    explicit env_init(std::vector<std::string> v) : vars(std::move(v)) {
      if (vars.empty()) return;
      for (const auto& s : vars) ptrs.push_back(s.c_str());
      ptrs.push_back(nullptr);
    }
    boost::system::error_code on_setup(boost::process::v2::posix::default_launcher& l,
                                       const boost::process::v2::filesystem::path&,
                                       const char* const*) {
      if (!ptrs.empty()) l.env = ptrs.data();
      return {};
    }
  };
  // This process's environment with env_'s keys replaced or added, as KEY=VALUE strings.
  std::vector<std::string> environment() const {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
      const char* eq = std::strchr(*e, '=');
      const std::string key = eq ? std::string(*e, std::size_t(eq - *e)) : std::string(*e);
      bool replaced = false;
      for (const auto& [k, v] : env_) replaced = replaced || k == key;
      if (!replaced) out.emplace_back(*e);
    }
    for (const auto& [k, v] : env_) out.push_back(k + "=" + v);
    return out;
  }

  std::string program_;
  std::vector<std::string> args_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::string dir_;
  stdio in_ = stdio::inherit, out_ = stdio::inherit, err_ = stdio::inherit;
};

}  // namespace zokio::process

#endif
