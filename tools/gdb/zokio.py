# gdb commands for Zokio runtimes built with the task dump (runtime_config::enable_task_dump):
#
#   (gdb) source tools/gdb/zokio.py
#   (gdb) zokio-tasks            every live task of every runtime: id, name, spawn place, state,
#                                and for a zokio::task the co_await point of each frame it is
#                                suspended in (innermost first)
#
# It reads memory only (no function calls), so it works on a core file as on a live process:
# `gdb ./server core`, then the two lines above. The program needs debug information for
# Zokio's types (-g; RelWithDebInfo is enough). It walks the same structures as
# runtime::dump(): the registries listed from the C symbol zokio_task_registries, each task's
# header, and the frame stack of its coroutine (task_promise_base: leaf_, parent_, await_at_).
# doc/observability.md, "Task dump", shows it.
import re

import gdb

RUNNING, NOTIFIED, COMPLETE, CANCELLED = 1, 2, 4, 8


def _head_impl(v):
    """The pointer inside a std::unique_ptr (libstdc++), found through its tuple's bases."""
    try:
        return v["_M_t"]["_M_t"]["_M_head_impl"]
    except gdb.error:
        pass
    todo = [v]
    while todo:
        x = todo.pop()
        for f in x.type.strip_typedefs().fields():
            if f.name == "_M_head_impl" and x[f].type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
                return x[f]
            if f.is_base_class or f.name in ("_M_t",):
                todo.append(x[f])
    raise gdb.GdbError("zokio: cannot read a std::unique_ptr (libstdc++ layout changed?)")


def _string(p):
    try:
        return p.string() if int(p) else ""
    except gdb.error:
        return "?"


def _location(loc):
    return "%s:%d" % (_string(loc["file_"]), int(loc["line_"]))


def _await_chain(header):
    """The await points of a waiting zokio::task, innermost first; [] for other futures."""
    vt = int(header["vtable"])
    sym = gdb.execute("info symbol 0x%x" % vt, to_string=True)
    m = re.match(r"(.*)::vtable_ in section", sym.strip())
    if not m:
        return []
    try:
        cell = header.address.cast(gdb.lookup_type(m.group(1)).pointer()).dereference()
        if not bool(cell["fut_alive"]):
            return []
        frame = int(cell["fut"]["h_"]["_M_fr_ptr"])
    except (gdb.error, RuntimeError):
        return []
    if not frame:
        return []
    base = gdb.lookup_type("zokio::detail::task_promise_base").pointer()
    # The promise follows the frame's resume and destroy pointers (g++ and clang: 16 bytes);
    # a root's root_ points at itself, which confirms the offset.
    for off in (16, 32, 8, 24, 48, 64):
        p = gdb.Value(frame + off).cast(base)
        try:
            if int(p["root_"]) == frame + off:
                break
        except gdb.MemoryError:
            continue
    else:
        return []
    chain = []
    if not bool(p["started_"]) or not int(p["leaf_"]):
        return chain
    q = p["leaf_"]
    while int(q) and len(chain) < 1000:
        chain.append(_location(q["await_at_"]))
        q = q["parent_"]
    return chain


def _tasks(registry):
    mask = int(registry["mask_"])
    shards = _head_impl(registry["shards_"])
    for i in range(mask + 1):
        slots = (shards + i).dereference()["tasks"]["slots_"]["_M_impl"]
        p, end = slots["_M_start"], slots["_M_finish"]
        while p != end:
            t = p.dereference()
            if int(t) > 1:  # 0: empty, 1: erased
                yield t.dereference()
            p += 1


class ZokioTasks(gdb.Command):
    """zokio-tasks: every live task of every Zokio runtime built with the task dump."""

    def __init__(self):
        super().__init__("zokio-tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        reg_type = gdb.lookup_type("zokio::detail::task_registry").pointer()
        r = gdb.parse_and_eval("(void*)&zokio_task_registries").cast(reg_type.pointer()).dereference()
        n_rt = 0
        while int(r):
            n_rt += 1
            tasks = list(_tasks(r.dereference()))
            print("runtime %d (registry 0x%x): %d live tasks" % (n_rt, int(r), len(tasks)))
            for t in tasks:
                s = int(t["state"]["_M_i"])
                if s & COMPLETE:
                    continue
                state = "running" if s & RUNNING else "queued" if s & NOTIFIED else "waiting"
                name = _string(t["name"])
                print("task %d%s, %s, spawned at %s:%d" % (int(t["id"]), ' "%s"' % name if name else "", state,
                                                          _string(t["where_file"]), int(t["where_line"])))
                if state == "waiting":
                    for loc in _await_chain(t):
                        print("    at " + loc)
            r = r.dereference()["next_in_process_"]
        if n_rt == 0:
            print("zokio: no runtime with the task dump (runtime_config::enable_task_dump) is alive")


ZokioTasks()
