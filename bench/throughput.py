#!/usr/bin/env python3
"""HTTP throughput of the release binary against pgbench running the exact statements
the service sends for the same request (issue 11, point 1). One run, interleaved:
wrk (64 connections, 1,000 users' signed session cookies rotated, Lua) on
`tasks(first: 20) { nodes { id title completed createdAt } }`, then pgbench with the
two statements captured from PostgreSQL's statement log, alternately for ROUNDS rounds.
Prints req/s, p50, p99, errors, CPU per request of the service (/proc/<pid>/stat) and
of PostgreSQL (the postmaster's children serving the bench database, sampled every
0.1 s, so other databases on a shared server are left out), resident memory idle and peak (VmRSS, VmHWM),
start-up time to the first answer, and each ratio to pgbench. Writes the output to
bench/results/throughput-<date>-<host>.txt as well.

    apt-get install -y wrk postgresql-contrib    # wrk, pgbench
    cargo build --release --bin todo-graphql
    python3 bench/throughput.py                        # TASKS=1000000 DURATION=10 ROUNDS=2

Needs PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
a superuser (ALTER DATABASE ... SET log_statement), on this machine, psql on PATH, and
its server log readable at PG_LOG (default /var/log/postgresql/postgresql-15-main.log).
Loopback only; every loop is bounded.
"""
import base64, datetime, threading, hashlib, hmac, http.client, json, os, re, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SERVICE = os.environ.get("SERVICE", os.path.join(TARGET, "release", "todo-graphql"))
SERVER = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_LOG = os.environ.get("PG_LOG", "/var/log/postgresql/postgresql-15-main.log")
SECRET = "bench-secret-0123456789abcdef0123456789"
USERS = 1000
TASKS = int(os.environ.get("TASKS", "1000000"))
DURATION = int(os.environ.get("DURATION", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
THREADS = 2
# Tokens and user ids are decimal strings so pgbench can derive them with \set.
TOKEN_BASE, USER_BASE = 1_000_000_000_000_000_000, 2_000_000_000_000_000_000
QUERY = "{ tasks(first: 20) { nodes { id title completed createdAt } } }"
TICKS = os.sysconf("SC_CLK_TCK")
LUA = """
local cookies = {%s}
local body = %s
i = 0
graphql_errors = 0
response = function(status, headers, body)
  if status == 200 and string.find(body, '"errors"', 1, true) then graphql_errors = graphql_errors + 1 end
end
request = function()
  i = i + 1
  return wrk.format("POST", "/graphql", {["content-type"] = "application/json",
    ["cookie"] = cookies[(i %% #cookies) + 1]}, body)
end
local threads = {}
setup = function(thread)
  thread:set("i", #threads * 997)  -- each thread starts at another user
  table.insert(threads, thread)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local ge = 0
  for _, t in ipairs(threads) do ge = ge + (t:get("graphql_errors") or 0) end
  io.write(string.format("JSON{\\"requests\\":%%d,\\"seconds\\":%%f,\\"p50_us\\":%%d,\\"p99_us\\":%%d,\\"errors\\":%%d,\\"graphql_errors\\":%%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout, ge))
end
"""


def psql(url, sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def with_db(name):
    return urllib.parse.urlunparse(urllib.parse.urlparse(SERVER)._replace(path="/" + name))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # fields from 3 (state) on


def cpu_s(pid):
    f = stat_fields(pid)
    return (int(f[11]) + int(f[12])) / TICKS  # utime, stime


def postmaster_pid():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
                if args[0].endswith(b"/postgres") and b"-D" in args:
                    return int(entry)
            except OSError:
                pass
    raise SystemExit("no postmaster on this machine: PostgreSQL CPU cannot be read from /proc")


class PostgresCpu:
    """CPU of the PostgreSQL processes working for the bench database only (other
    databases on a shared server are left out): the postmaster's children whose process
    title names the database, sampled every SAMPLE_S seconds while a phase runs, so a
    backend that exits (pgbench's, at the end) loses at most its last SAMPLE_S."""
    SAMPLE_S = 0.1

    def __init__(self, master, database):
        self.master, self.tag = master, f" {database} ".encode()
        self.start, self.last, self.stop = {}, {}, threading.Event()

    def sample(self):
        seen = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if self.tag not in f.read():
                            continue
                    g = stat_fields(int(entry))
                    if int(g[1]) == self.master:
                        seen[int(entry)] = (int(g[11]) + int(g[12])) / TICKS
                except (OSError, IndexError):
                    pass
        return seen

    def __enter__(self):
        self.start = self.sample()
        self.last = dict(self.start)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while not self.stop.wait(self.SAMPLE_S):
            self.last.update(self.sample())

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=5)
        self.last.update(self.sample())
        self.seconds = sum(cpu - self.start.get(pid, 0) for pid, cpu in self.last.items())


def cookie(token):
    signature = base64.b64encode(hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    return "better-auth.session_token=" + urllib.parse.quote(f"{token}.{signature}", safe=".")


def ask(port, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/graphql", body=json.dumps({"query": QUERY}), headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def start(env, port, headers):
    began = time.perf_counter()
    proc = subprocess.Popen([SERVICE], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() < began + 30:
        try:
            status, body = ask(port, headers)
            if status == 200:
                seconds = time.perf_counter() - began
                nodes = json.loads(body)["data"]["tasks"]["nodes"]
                if len(nodes) != min(20, TASKS // USERS):
                    raise SystemExit(f"expected {min(20, TASKS // USERS)} tasks, got {len(nodes)}: {body[:200]!r}")
                return proc, seconds
        except OSError:
            time.sleep(0.002)
    proc.kill()
    raise SystemExit("the service did not answer within 30 s")


def capture_statements(url, name, env, port, headers):
    """Runs one request with log_statement = 'all' for the bench database; answers the
    statements executed for it, each with its parameters, from the server log."""
    psql(url, f"ALTER DATABASE {name} SET log_statement = 'all'")
    offset = os.path.getsize(PG_LOG)
    proc, _ = start(env, port, headers)
    marker = "bench-marker-" + secrets.token_hex(4)
    psql(url, f"SELECT '{marker}'")
    status, _ = ask(port, headers)
    psql(url, f"SELECT '{marker}-end'")
    proc.terminate()
    proc.wait(timeout=30)
    psql(url, f"ALTER DATABASE {name} RESET log_statement")
    with open(PG_LOG, errors="replace") as f:
        f.seek(offset)
        text = f.read()
    first, end = text.index(marker + "'"), text.index(marker + "-end")
    text = text[text.index("\n", first) + 1:text.rindex("\n", 0, end) + 1]
    # Join continuation lines (tab-indented) to their entry.
    entries, prefix = [], re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    for line in text.splitlines():
        if prefix.match(line):
            entries.append(line)
        elif entries:
            entries[-1] += "\n" + line.lstrip("\t")
    statements = []
    for entry in entries:
        m = re.search(r"LOG:  (?:execute [^:]*|statement): (.*)", entry, re.S)
        if m and "bench-marker" not in m.group(1):
            statements.append([m.group(1).strip(), []])
        m = re.search(r"DETAIL:  parameters: (.*)", entry, re.S)
        if m and statements:
            statements[-1][1] = re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", m.group(1))
    return statements


def pgbench_script(statements, directory):
    """The captured statements as a pgbench script: the token and user id parameters
    become :tok and :uid (one of the 1,000 users at random); every other parameter is
    passed as its captured value through -D."""
    lines = [f"\\set u random(1, {USERS})", f"\\set tok {TOKEN_BASE} + :u", f"\\set uid {USER_BASE} + :u"]
    defines = []
    for i, (sql, params) in enumerate(statements):
        for number, value in sorted(params, key=lambda p: -int(p[0])):
            literal = value[1:-1].replace("''", "'") if value != "NULL" else None
            if literal is not None and literal.isdigit() and int(literal) - TOKEN_BASE in range(1, USERS + 1):
                var = "tok"
            elif literal is not None and literal.isdigit() and int(literal) - USER_BASE in range(1, USERS + 1):
                var = "uid"
            else:
                if literal is None:
                    raise SystemExit(f"NULL parameter in {sql!r}: pgbench cannot pass it")
                var = f"p{i}_{number}"
                defines += ["-D", f"{var}={literal}"]
            sql = re.sub(r"\$%s(?!\d)" % number, ":" + var, sql)
        lines.append(" ".join(sql.split()) + ";")
    path = os.path.join(directory, "tasks.sql")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, defines


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0


def run_wrk(lua, port, proc, master, name):
    before = cpu_s(proc.pid)
    with PostgresCpu(master, name) as pg_cpu:
        out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{DURATION}s", "--timeout", "5s",
                              "-s", lua, f"http://127.0.0.1:{port}/graphql"], capture_output=True, text=True,
                             timeout=DURATION + 60, check=True).stdout
    service, pg = cpu_s(proc.pid) - before, pg_cpu.seconds
    r = json.loads(out.split("JSON", 1)[1].splitlines()[0])
    n = max(r["requests"], 1)
    return {"rps": r["requests"] / r["seconds"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "errors": r["errors"] + r["graphql_errors"], "service_us": service / n * 1e6, "pg_us": pg / n * 1e6}


def run_pgbench(url, script, defines, directory, master, name):
    logdir = tempfile.mkdtemp(dir=directory)
    with PostgresCpu(master, name) as pg_cpu:
        out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(CONNECTIONS), "-j", str(THREADS),
                              "-T", str(DURATION), "-f", script, "-l", "--log-prefix", os.path.join(logdir, "log"),
                              *defines, url], capture_output=True, text=True, timeout=DURATION + 60)
    pg = pg_cpu.seconds
    if out.returncode != 0:
        raise SystemExit(f"pgbench failed: {out.stderr[-2000:]}")
    latencies, failed = [], 0
    for log in os.listdir(logdir):
        with open(os.path.join(logdir, log)) as f:
            for line in f:
                fields = line.split()
                if fields[2] == "failed":
                    failed += 1
                else:
                    latencies.append(int(fields[2]))
    shutil.rmtree(logdir)
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    n = max(len(latencies), 1)
    return {"rps": tps, "p50_ms": percentile(latencies, 50) / 1000, "p99_ms": percentile(latencies, 99) / 1000,
            "errors": failed, "service_us": None, "pg_us": pg / n * 1e6}


def mean(rows, key):
    values = [r[key] for r in rows if r[key] is not None]
    return sum(values) / len(values) if values else None


def main():
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            raise SystemExit(f"missing {tool}: apt-get install -y wrk postgresql-contrib postgresql-client")
    if not os.path.exists(SERVICE):
        raise SystemExit(f"missing {SERVICE}: cargo build --release --bin todo-graphql")
    master = postmaster_pid()
    name = "bench_" + secrets.token_hex(4)
    psql(SERVER, f"CREATE DATABASE {name}")
    url = with_db(name)
    url_nossl = url + ("&" if "?" in url else "?") + "sslmode=disable"
    directory = tempfile.mkdtemp(prefix="bench-http-")
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    try:
        seeded = time.perf_counter()
        psql(url, open(os.path.join(ROOT, "tests", "fixtures", "better-auth", "schema.sql")).read())
        subprocess.run([SERVICE, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": url_nossl,
                       "BETTER_AUTH_SECRET": SECRET}, check=True, capture_output=True)
        psql(url, f"""
            INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
              SELECT ({USER_BASE} + n)::text, 'User ' || n, 'user' || n || '@example.com', true, now(), now()
              FROM generate_series(1, {USERS}) n;
            INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId")
              SELECT 's' || n, now() + interval '1 day', ({TOKEN_BASE} + n)::text, now(), now(), ({USER_BASE} + n)::text
              FROM generate_series(1, {USERS}) n;
            INSERT INTO tasks SELECT gen_random_uuid(), 'task ' || n, NULL, n % 3 = 0,
              ({USER_BASE} + 1 + n % {USERS})::text, now() - n * interval '1 second', now()
              FROM generate_series(1, {TASKS}) n;
            """)
        psql(url, "VACUUM ANALYZE")  # so autovacuum does not run during the phases
        seed_s = time.perf_counter() - seeded
        cookies = [cookie(str(TOKEN_BASE + n)) for n in range(1, USERS + 1)]
        lua = os.path.join(directory, "tasks.lua")
        with open(lua, "w") as f:
            f.write(LUA % (",".join(json.dumps(c) for c in cookies), json.dumps(json.dumps({"query": QUERY}))))
        port = free_port()
        env = {"PATH": os.environ["PATH"], "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": url_nossl,
               "BETTER_AUTH_SECRET": SECRET, "LOG_FORMAT": "json", "RUST_LOG": "warn",
               "RATE_LIMIT_IP_PER_SEC": "0", "RATE_LIMIT_USER_PER_SEC": "0"}
        headers = {"content-type": "application/json", "cookie": cookies[0]}
        statements = capture_statements(url, name, env, port, headers)
        if not statements:
            raise SystemExit(f"no statements captured from {PG_LOG}")
        script, defines = pgbench_script(statements, directory)

        load_before = os.getloadavg()
        proc, startup_s = start(env, port, headers)
        try:
            time.sleep(1)
            rss_idle = status_kib(proc.pid, "VmRSS")
            service_rows, pgbench_rows = [], []
            for _ in range(ROUNDS):
                service_rows.append(run_wrk(lua, port, proc, master, name))
                pgbench_rows.append(run_pgbench(url_nossl, script, defines, directory, master, name))
            rss_peak = status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(timeout=30)

        now = datetime.datetime.now(datetime.timezone.utc)
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        say(f"bench/throughput.py  {now:%Y-%m-%d %H:%M} UTC  host {socket.gethostname()}  {os.cpu_count()} cpus ({cpu})"
            f"  load average at start {load_before[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
        say(f"PostgreSQL {psql(url, 'SHOW server_version').strip()}; {USERS} users with sessions, {TASKS} tasks "
            f"(seeded in {seed_s:.1f} s); {CONNECTIONS} connections, {THREADS} threads; {ROUNDS} rounds of "
            f"{DURATION} s each, wrk then pgbench, interleaved; release binary, sslmode=disable, rate limits off")
        say(f"query: {QUERY}")
        say("statements captured from the server log (log_statement = 'all'), run by pgbench -M prepared:")
        for line in open(script):
            say("  " + line.rstrip())
        say(f"  pgbench -D: {' '.join(d for d in defines if d != '-D') or '(none)'}")
        say("(some load on this shared machine comes from other processes; CPU figures are per request")
        say(" in µs over each phase; PostgreSQL CPU is the backends of the bench database, sampled every 0.1 s)")
        say()
        say("| what | req/s | ratio to pgbench | p50 ms | p99 ms | errors | service CPU µs/req | PostgreSQL CPU µs/req | PG CPU ratio |")
        say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r, (s, p) in enumerate(zip(service_rows, pgbench_rows), 1):
            say(f"| pgbench, round {r} | {p['rps']:,.0f} | 1.00 | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['errors']} | — | {p['pg_us']:.0f} | 1.00 |")
            say(f"| service, round {r} | {s['rps']:,.0f} | {s['rps'] / p['rps']:.2f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']} | {s['service_us']:.0f} | {s['pg_us']:.0f} | {s['pg_us'] / p['pg_us']:.2f} |")
        s, p = {k: mean(service_rows, k) for k in service_rows[0]}, {k: mean(pgbench_rows, k) for k in pgbench_rows[0]}
        say(f"| **pgbench, mean** | {p['rps']:,.0f} | 1.00 | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['errors']:.0f} | — | {p['pg_us']:.0f} | 1.00 |")
        say(f"| **service, mean** | {s['rps']:,.0f} | {s['rps'] / p['rps']:.2f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']:.0f} | {s['service_us']:.0f} | {s['pg_us']:.0f} | {s['pg_us'] / p['pg_us']:.2f} |")
        say()
        say(f"service resident memory: idle {rss_idle / 1024:.1f} MiB, peak {rss_peak / 1024:.1f} MiB (VmRSS 1 s after start, VmHWM after the load)")
        say(f"service start-up to the first answered tasks request: {startup_s * 1000:.0f} ms")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        out = os.path.join(ROOT, "bench", "results", f"throughput-{now:%Y-%m-%d}-{socket.gethostname()}.txt")
        with open(out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"written to {os.path.relpath(out, ROOT)}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        try:
            psql(SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError as e:
            print(f"could not drop {name}: {e.stderr}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
