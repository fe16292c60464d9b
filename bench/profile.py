#!/usr/bin/env python3
"""Where a request's CPU goes: the database of bench/throughput.py, the service built
with symbols, wrk's load (MIX=reads or writes) for DURATION seconds, and `perf record`
on the service meanwhile; prints `perf report`'s flat profile (self time by symbol,
then by shared object), CPU per request and instructions are not available in most
VMs, so the sampling clock is cpu-clock.

    cargo build --profile profiling --bin todo-graphql
    python3 bench/profile.py          # SERVICE=target/profiling/todo-graphql MIX=reads DURATION=10
    CALLERS=1 python3 bench/profile.py   # with call graphs (DWARF): slower, larger

perf.data is left in PERF_DATA (default /tmp/todo-graphql-perf.data) for `perf report -i`.
Debian 12's perf 6.1 does not read this binary's symbols (it prints addresses); map
them with `nm -C -n` (an address in the report is the file offset: add the executable
LOAD segment's vaddr minus its offset, `readelf -l`), or use
`valgrind --tool=callgrind`, whose instruction counts also do not move with the load.
"""
import json, os, secrets, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput as t  # noqa: E402

SERVICE = os.environ.get("SERVICE", os.path.join(t.TARGET, "profiling", "todo-graphql"))
MIX = os.environ.get("MIX", "reads")
PERF_DATA = os.environ.get("PERF_DATA", "/tmp/todo-graphql-perf.data")
CALLERS = os.environ.get("CALLERS") == "1"


def main():
    for tool in ("wrk", "perf", "psql"):
        if not shutil.which(tool):
            raise SystemExit(f"missing {tool}: apt-get install -y wrk linux-perf postgresql-client")
    name = "bench_" + secrets.token_hex(4)
    t.psql(t.SERVER, f"CREATE DATABASE {name}")
    url = t.with_db(name)
    directory = tempfile.mkdtemp(prefix="bench-profile-")
    try:
        t.seed(url, SERVICE)
        cookies = ",".join(json.dumps(t.cookie(u)) for u in range(1, t.USERS + 1))
        lua = os.path.join(directory, "load.lua")
        with open(lua, "w") as f:
            if MIX == "reads":
                f.write(t.LUA_COMMON % cookies + t.LUA_READS % json.dumps(t.body(t.READ_QUERY)))
            else:
                templates = [json.dumps(json.dumps({"query": q, "variables": v}).replace("%", "%%")
                                        .replace('"@T"', '"%s"')) for q, v in
                             [(t.CREATE, {"t": "@T"}), (t.TOGGLE, {"id": "@T"}),
                              (t.UPDATE, {"id": "@T", "t": "@T"}), (t.DELETE, {"id": "@T"})]]
                f.write(t.LUA_COMMON % cookies + t.LUA_WRITES % (t.USERS, t.HALF, *templates, t.THREADS))
        port = t.free_port()
        env = {"PATH": os.environ["PATH"], "PORT": str(port), "HOST": "127.0.0.1",
               "DATABASE_URL": t.with_sslmode(url, "disable"), "BETTER_AUTH_SECRET": t.SECRET,
               "LOG_FORMAT": "json", "RUST_LOG": "warn", "RATE_LIMIT_IP_PER_SEC": "0", "RATE_LIMIT_USER_PER_SEC": "0"}
        proc, _ = t.start(SERVICE, env, port)
        try:
            time.sleep(1)
            graph = ["--call-graph", "dwarf,16384", "-F", "299"] if CALLERS else ["-F", "999"]
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", *graph, "-o", PERF_DATA, "-p",
                                     str(proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            args = [str(t.HALF + 1)] if MIX != "reads" else []
            result = t.run_wrk(lua, port, proc, t.postmaster_pid(), name, args)
            perf.send_signal(2)
            perf.wait(timeout=120)
        finally:
            t.stop(proc)
        print(f"{MIX}: {result['rps']:,.0f} req/s, service CPU {result['service_us']:.0f} µs/req, "
              f"PostgreSQL CPU {result['pg_us']:.0f} µs/req, errors {result['errors']}")
        for sort in ("dso", "symbol"):
            report = subprocess.run(["perf", "report", "-i", PERF_DATA, "--no-children", "--sort", sort,
                                     "--percent-limit", "0.7", "--stdio", "-g", "none"],
                                    capture_output=True, text=True, timeout=600).stdout
            print("\n".join(line for line in report.splitlines() if line and not line.startswith("#")))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        t.psql(t.SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
