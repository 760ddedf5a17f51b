// zokio::process: child processes on the runtime (Boost.Process v2): command, child,
// exit_status; piped stdio as zokio::io streams; kill and reap on drop. Guide: doc/process.md.
#ifndef ZOKIO_PROCESS_HPP
#define ZOKIO_PROCESS_HPP

#include <zokio/process/child.hpp>
#include <zokio/process/command.hpp>
#include <zokio/process/exit_status.hpp>

#endif
