#!/usr/bin/env python3
"""HTTP throughput of the release binary against pgbench running the exact statements
the service sends for the same requests (issue 11). One run, interleaved, two mixes:

- reads: wrk (64 connections, 1,000 users' signed session cookies rotated, Lua) on
  `tasks(first: 20) { nodes { id title completed createdAt } }`;
- writes: the same wrk, each connection cycling createTask, toggleTask, updateTask and
  deleteTask (a task of the cookie's own user, each delete a task not deleted before);

and, after each, pgbench with the statements of the same requests captured from
PostgreSQL's statement log (never typed by hand), alternately for ROUNDS rounds.
Prints req/s, p50, p99, errors, CPU per request of the service (/proc/<pid>/stat) and
of PostgreSQL (the postmaster's children serving the bench database, sampled every
0.1 s, so other databases on a shared server are left out), resident memory idle and
peak (VmRSS, VmHWM), start-up time to the first answer with sslmode=disable and
sslmode=require beside psql's, and each ratio to pgbench. Last, at one connection,
the latency of a page DEEP rows into a long list (one more user with DEEP + 1,000
tasks, the cursor found by walking the list) against the first page's, interleaved. Writes the table to
bench/results/throughput-<date>-<host>.txt and draws it as an SVG chart beside it.

    apt-get install -y wrk postgresql-contrib    # wrk, pgbench
    cargo build --release --bin todo-graphql
    python3 bench/throughput.py      # TASKS=1000000 DURATION=10 ROUNDS=2 MIX=reads,writes

VARIANTS="before=/path/a,after=/path/b" runs several binaries side by side in the same
run (each phase of each round: every variant, then pgbench), which is how a change is
judged on a machine whose load varies.

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
MIXES = [m for m in os.environ.get("MIX", "reads,writes").split(",") if m]
# pgbench's connections. For writes, as many as the service's pool holds (its default
# DATABASE_MAX_CONNECTIONS): every write NOTIFYs, PostgreSQL serialises the commits of
# transactions that notified, and 64 connections would only queue on that lock.
PGBENCH_CLIENTS = {"reads": int(os.environ.get("PGBENCH_READ_CLIENTS", CONNECTIONS)),
                   "writes": int(os.environ.get("PGBENCH_WRITE_CLIENTS", "10"))}
# wrk and pgbench refuse more threads than connections.
THREADS = min(2, CONNECTIONS)
# Tokens and user ids are decimal strings so pgbench can derive them with \set.
TOKEN_BASE, USER_BASE = 1_000_000_000_000_000_000, 2_000_000_000_000_000_000
# Task n (1..TASKS) has the id lpad(n, 32, '0') (32 decimal digits are 32 hex digits)
# and belongs to user 1 + n % USERS. Toggles and updates hit tasks 1..HALF; the
# service's deletes hit tasks HALF+1..PGBENCH_DELETES-1, each wrk run its own slice,
# and pgbench's the tasks from PGBENCH_DELETES on, so no task is deleted twice.
HALF = TASKS // 2
# The deep page: a user of their own with DEEP_TASKS tasks (ids after the others'),
# whose page after the cursor of row DEEP is timed against their first page.
DEEP = int(os.environ.get("DEEP", "50000"))
DEEP_TASKS = DEEP + 1000
DEEP_USER = USERS + 1
DEEP_SAMPLES = int(os.environ.get("DEEP_SAMPLES", "300"))
DEEP_QUERY = ("query($after: String) { tasks(first: 20, after: $after) "
              "{ nodes { id title completed createdAt } pageInfo { endCursor } } }")
PGBENCH_DELETES = HALF + (TASKS - HALF) // 2
READ_QUERY = "{ tasks(first: 20) { nodes { id title completed createdAt } } }"
CREATE = "mutation($t: String!) { createTask(input: { title: $t }) { id } }"
TOGGLE = "mutation($id: ID!) { toggleTask(id: $id) { id completed } }"
UPDATE = "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { id title } }"
DELETE = "mutation($id: ID!) { deleteTask(id: $id) }"
TICKS = os.sysconf("SC_CLK_TCK")
LUA_COMMON = """
local cookies = {%s}
i = 0
graphql_errors = 0
response = function(status, headers, body)
  if status == 200 and string.find(body, '"errors"', 1, true) then graphql_errors = graphql_errors + 1 end
end
local threads = {}
setup = function(thread)
  thread:set("tid", #threads)
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
local function post(u, body)
  return wrk.format("POST", "/graphql", {["content-type"] = "application/json", ["cookie"] = cookies[u]}, body)
end
"""
LUA_READS = """
local body = %s
request = function()
  i = i + 1
  return post((i %% #cookies) + 1, body)
end
"""
LUA_WRITES = """
local users, half = %d, %d
local create, toggle, update, delete = %s, %s, %s, %s
init = function(args)
  first_delete = tonumber(args[1])
  deletes = 0
end
local function task_id(n) return string.format("00000000-0000-0000-0000-%%012d", n) end
local function owner(n) return 1 + n %% users end
request = function()
  i = i + 1
  local op = i %% 4
  if op == 0 then
    return post((i %% users) + 1, string.format(create, "bench task " .. i))
  elseif op == 3 then
    local n = first_delete + tid + deletes * %d
    deletes = deletes + 1
    return post(owner(n), string.format(delete, task_id(n)))
  end
  local n = 1 + (i * 7919 + tid * 104729) %% half
  if op == 1 then return post(owner(n), string.format(toggle, task_id(n))) end
  return post(owner(n), string.format(update, task_id(n), "renamed " .. i))
end
"""


def psql(url, sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def with_db(name):
    return urllib.parse.urlunparse(urllib.parse.urlparse(SERVER)._replace(path="/" + name))


def with_sslmode(url, mode):
    return url + ("&" if "?" in url else "?") + "sslmode=" + mode


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


def cookie(u):
    token = str(TOKEN_BASE + u)
    signature = base64.b64encode(hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    return "better-auth.session_token=" + urllib.parse.quote(f"{token}.{signature}", safe=".")


def task_id(n):
    return f"00000000-0000-0000-0000-{n:012d}"


def owner(n):
    return 1 + n % USERS


def body(query, **variables):
    return json.dumps({"query": query, "variables": variables})


def ask(port, u, payload):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/graphql", body=payload, headers={"content-type": "application/json", "cookie": cookie(u)})
    response = conn.getresponse()
    return response.status, response.read()


def start(service, env, port):
    began = time.perf_counter()
    proc = subprocess.Popen([service], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() < began + 30:
        try:
            status, answer = ask(port, 1, body(READ_QUERY))
            if status == 200:
                seconds = time.perf_counter() - began
                nodes = json.loads(answer)["data"]["tasks"]["nodes"]
                if len(nodes) != min(20, TASKS // USERS):
                    raise SystemExit(f"expected {min(20, TASKS // USERS)} tasks, got {len(nodes)}: {answer[:200]!r}")
                return proc, seconds
        except OSError:
            time.sleep(0.002)
    proc.kill()
    raise SystemExit("the service did not answer within 30 s")


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def seed(url, service):
    psql(url, open(os.path.join(ROOT, "tests", "fixtures", "better-auth", "schema.sql")).read())
    subprocess.run([service, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": with_sslmode(url, "disable"),
                   "BETTER_AUTH_SECRET": SECRET}, check=True, capture_output=True)
    psql(url, f"""
        INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
          SELECT ({USER_BASE} + n)::text, 'User ' || n, 'user' || n || '@example.com', true, now(), now()
          FROM generate_series(1, {USERS}) n;
        INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId")
          SELECT 's' || n, now() + interval '1 day', ({TOKEN_BASE} + n)::text, now(), now(), ({USER_BASE} + n)::text
          FROM generate_series(1, {USERS}) n;
        INSERT INTO tasks SELECT lpad(n::text, 32, '0')::uuid, 'task ' || n, NULL, n % 3 = 0,
          ({USER_BASE} + 1 + n % {USERS})::text, now() - n * interval '1 second', now()
          FROM generate_series(1, {TASKS}) n;
        """)
    psql(url, f"""
        INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
          VALUES (({USER_BASE} + {DEEP_USER})::text, 'Deep', 'deep@example.com', true, now(), now());
        INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId")
          VALUES ('deep', now() + interval '1 day', ({TOKEN_BASE} + {DEEP_USER})::text, now(), now(),
                  ({USER_BASE} + {DEEP_USER})::text);
        INSERT INTO tasks SELECT lpad(({TASKS} + m)::text, 32, '0')::uuid, 'deep ' || m, NULL, m % 3 = 0,
          ({USER_BASE} + {DEEP_USER})::text, now() - m * interval '1 second', now()
          FROM generate_series(1, {DEEP_TASKS}) m;
        """)
    psql(url, "VACUUM ANALYZE")  # so autovacuum does not run during the phases


def capture_statements(url, name, service, env, port, requests):
    """Runs each of `requests` ((user, body) pairs) once with log_statement = 'all' for
    the bench database; answers the statements each executed, with their parameters,
    from the server log, one list per request."""
    psql(url, f"ALTER DATABASE {name} SET log_statement = 'all'")
    offset = os.path.getsize(PG_LOG)
    proc, _ = start(service, env, port)
    marker = "bench-marker-" + secrets.token_hex(4)
    for n, (u, payload) in enumerate(requests):
        psql(url, f"SELECT '{marker}-{n}-'")
        status, answer = ask(port, u, payload)
        if status != 200 or b'"errors"' in answer:
            raise SystemExit(f"the captured request failed: {status} {answer[:300]!r}")
        psql(url, f"SELECT '{marker}-{n}-end'")
    stop(proc)
    psql(url, f"ALTER DATABASE {name} RESET log_statement")
    with open(PG_LOG, errors="replace") as f:
        f.seek(offset)
        log = f.read()
    captured = []
    for n in range(len(requests)):
        first, end = log.index(f"{marker}-{n}-'"), log.index(f"{marker}-{n}-end")
        text = log[log.index("\n", first) + 1:log.rindex("\n", 0, end) + 1]
        # Join continuation lines (tab-indented) to their entry; only this database's.
        entries, prefix = [], re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        for line in text.splitlines():
            if prefix.match(line):
                entries.append(line)
            elif entries:
                entries[-1] += "\n" + line.lstrip("\t")
        statements = []
        for entry in entries:
            if f"@{name} " not in entry.split("LOG:", 1)[0].split("DETAIL:", 1)[0]:
                continue
            m = re.search(r"LOG:  (?:execute [^:]*|statement): (.*)", entry, re.S)
            if m and "bench-marker" not in m.group(1) and not m.group(1).lstrip().upper().startswith("LISTEN"):
                statements.append([m.group(1).strip(), []])
            m = re.search(r"DETAIL:  parameters: (.*)", entry, re.S)
            if m and statements:
                statements[-1][1] = re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", m.group(1))
        if not statements:
            raise SystemExit(f"no statements captured from {PG_LOG}")
        captured.append(statements)
    return captured


def pgbench_script(statements, directory, name, sets, task=None, new_task=False):
    """The captured statements as a pgbench script. The token and user id parameters
    become :tok and :uid, the id of the task the request named becomes :n (a task of
    that user, per `sets`), an id the service made up for a new task becomes :newid;
    each becomes its text form in the statement, lpad(:n::text, 32, '0')::uuid for an
    id. A NULL parameter becomes the literal NULL. Every other parameter is passed as
    its captured value through -D."""
    lines = list(sets)
    defines = []
    for i, (sql, params) in enumerate(statements):
        for number, value in sorted(params, key=lambda p: -int(p[0])):
            literal = value[1:-1].replace("''", "'")
            if value == "NULL":
                to = "NULL"  # pgbench cannot pass a NULL parameter; the literal costs the same
            elif literal.isdigit() and int(literal) - TOKEN_BASE in range(1, USERS + 1):
                to = ":tok"
            elif literal.isdigit() and int(literal) - USER_BASE in range(1, USERS + 1):
                to = ":uid"
            elif task is not None and literal == task_id(task):
                to = "lpad(:n::text, 32, '0')::uuid"
            elif new_task and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", literal):
                to = "lpad(:newid::text, 32, '0')::uuid"
            else:
                var = f"{name}{i}_{number}"
                defines += ["-D", f"{var}={literal}"]
                to = ":" + var
            sql = re.sub(r"\$%s(?!\d)" % number, to, sql)
        lines.append(" ".join(sql.split()) + ";")
    path = os.path.join(directory, f"{name}.sql")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, defines


USER_SETS = [f"\\set u random(1, {USERS})", f"\\set tok {TOKEN_BASE} + :u", f"\\set uid {USER_BASE} + :u"]


def task_sets(low, high):
    return [f"\\set n random({low}, {high})", f"\\set u 1 + :n % {USERS}", f"\\set tok {TOKEN_BASE} + :u",
            f"\\set uid {USER_BASE} + :u"]


def deep_page(port):
    """Median latency in ms of DEEP_USER's first page and of their page after row DEEP,
    DEEP_SAMPLES of each, interleaved on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"content-type": "application/json", "cookie": cookie(DEEP_USER)}

    def page(after):
        started = time.perf_counter()
        conn.request("POST", "/graphql", body=body(DEEP_QUERY, after=after), headers=headers)
        answer = json.loads(conn.getresponse().read())
        return time.perf_counter() - started, answer["data"]["tasks"]

    # The cursor of row DEEP, by walking the list 100 rows at a time.
    cursor = None
    for _ in range(DEEP // 100):
        conn.request("POST", "/graphql", headers=headers, body=json.dumps({
            "query": "query($after: String) { tasks(first: 100, after: $after) { pageInfo { endCursor } } }",
            "variables": {"after": cursor}}))
        cursor = json.loads(conn.getresponse().read())["data"]["tasks"]["pageInfo"]["endCursor"]
    first, deep = [], []
    for n in range(DEEP_SAMPLES + 20):
        a, top = page(None)
        b, far = page(cursor)
        if top["nodes"][0]["title"] != "deep 1" or far["nodes"][0]["title"] != f"deep {DEEP + 1}":
            raise SystemExit(f"the deep page read the wrong rows: {top['nodes'][0]} {far['nodes'][0]}")
        if n >= 20:  # the first 20 of each warm up
            first.append(a)
            deep.append(b)
    conn.close()
    return percentile(first, 50) * 1000, percentile(deep, 50) * 1000


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0


def run_wrk(lua, port, proc, master, name, args=()):
    before = cpu_s(proc.pid)
    with PostgresCpu(master, name) as pg_cpu:
        out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{DURATION}s", "--timeout", "5s",
                              "-s", lua, f"http://127.0.0.1:{port}/graphql", "--", *args], capture_output=True,
                             text=True, timeout=DURATION + 60, check=True).stdout
    service, pg = cpu_s(proc.pid) - before, pg_cpu.seconds
    r = json.loads(out.split("JSON", 1)[1].splitlines()[0])
    n = max(r["requests"], 1)
    return {"rps": r["requests"] / r["seconds"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "errors": r["errors"] + r["graphql_errors"], "service_us": service / n * 1e6, "pg_us": pg / n * 1e6}


def run_pgbench(url, scripts, defines, directory, master, name, clients):
    logdir = tempfile.mkdtemp(dir=directory)
    files = [arg for script in scripts for arg in ("-f", script + "@1")]
    with PostgresCpu(master, name) as pg_cpu:
        out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(THREADS),
                              "-T", str(DURATION), *files, "-l", "--log-prefix", os.path.join(logdir, "log"),
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


def variants():
    spec = os.environ.get("VARIANTS")
    if not spec:
        return [("service", SERVICE)]
    pairs = [item.split("=", 1) for item in spec.split(",") if item]
    return [(label, path) for label, path in pairs]


def connect_ms(url, mode, runs=5):
    """psql's wall time for `SELECT 1` (start, connect, one statement, exit), best of `runs`."""
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        psql(with_sslmode(url, mode), "SELECT 1")
        best = min(best, time.perf_counter() - began)
    return best * 1000


def chart(path, title, mixes):
    """The means as an SVG: per mix, req/s of pgbench and each variant, and the CPU one
    request costs (service and PostgreSQL, stacked)."""
    colors = {"pgbench": "#8c8c8c", "service": "#1f77b4", "pg": "#ff7f0e"}
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728"]
    bar, gap, left, width = 18, 6, 170, 360
    rows = sum(len(rows) for _, rows in mixes)
    height = 70 + len(mixes) * 50 + rows * (bar + gap) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + 2 * width + 60}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>',
           f'<text x="{left}" y="45" font-weight="bold">requests per second (mean)</text>',
           f'<text x="{left + width + 40}" y="45" font-weight="bold">CPU per request, µs: '
           f'<tspan fill="{colors["service"]}">service</tspan> + <tspan fill="{colors["pg"]}">PostgreSQL</tspan></text>']
    y = 60
    for mix, rows in mixes:
        top_rps = max(r["rps"] for _, r in rows) or 1
        top_cpu = max((r["service_us"] or 0) + r["pg_us"] for _, r in rows) or 1
        out.append(f'<text x="10" y="{y + 14}" font-weight="bold">{mix}</text>')
        y += 22
        for k, (label, r) in enumerate(rows):
            fill = colors["pgbench"] if label == "pgbench" else palette[(k - 1) % len(palette)]
            w = r["rps"] / top_rps * width
            out.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">{label}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{fill}"/>')
            ratio = r["rps"] / rows[0][1]["rps"]
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}">{r["rps"]:,.0f} ({ratio:.2f}x)</text>')
            x0 = left + width + 40
            ws = (r["service_us"] or 0) / top_cpu * (width - 60)
            wp = r["pg_us"] / top_cpu * (width - 60)
            out.append(f'<rect x="{x0}" y="{y}" width="{ws:.1f}" height="{bar}" fill="{colors["service"]}"/>')
            out.append(f'<rect x="{x0 + ws:.1f}" y="{y}" width="{wp:.1f}" height="{bar}" fill="{colors["pg"]}"/>')
            label_cpu = (f'{r["service_us"]:.0f} + {r["pg_us"]:.0f}' if r["service_us"] is not None
                         else f'{r["pg_us"]:.0f}')
            out.append(f'<text x="{x0 + ws + wp + 4:.1f}" y="{y + 13}">{label_cpu}</text>')
            y += bar + gap
        y += 28
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            raise SystemExit(f"missing {tool}: apt-get install -y wrk postgresql-contrib postgresql-client")
    services = variants()
    for _, path in services:
        if not os.path.exists(path):
            raise SystemExit(f"missing {path}: cargo build --release --bin todo-graphql")
    master = postmaster_pid()
    name = "bench_" + secrets.token_hex(4)
    psql(SERVER, f"CREATE DATABASE {name}")
    url = with_db(name)
    url_nossl = with_sslmode(url, "disable")
    directory = tempfile.mkdtemp(prefix="bench-http-")
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    try:
        seeded = time.perf_counter()
        seed(url, services[0][1])
        seed_s = time.perf_counter() - seeded
        cookies = ",".join(json.dumps(cookie(u)) for u in range(1, USERS + 1))
        lua = {}
        if "reads" in MIXES:
            lua["reads"] = os.path.join(directory, "reads.lua")
            with open(lua["reads"], "w") as f:
                f.write(LUA_COMMON % cookies + LUA_READS % json.dumps(body(READ_QUERY)))
        if "writes" in MIXES:
            templates = [json.dumps(json.dumps({"query": q, "variables": v}).replace("%", "%%")
                                    .replace('"@T"', '"%s"')) for q, v in
                         [(CREATE, {"t": "@T"}), (TOGGLE, {"id": "@T"}), (UPDATE, {"id": "@T", "t": "@T"}),
                          (DELETE, {"id": "@T"})]]
            lua["writes"] = os.path.join(directory, "writes.lua")
            with open(lua["writes"], "w") as f:
                f.write(LUA_COMMON % cookies + LUA_WRITES % (USERS, HALF, *templates, THREADS))
        ports = {label: free_port() for label, _ in services}

        def env(label, mode="disable"):
            return {"PATH": os.environ["PATH"], "PORT": str(ports[label]), "HOST": "127.0.0.1",
                    "DATABASE_URL": with_sslmode(url, mode), "BETTER_AUTH_SECRET": SECRET, "LOG_FORMAT": "json",
                    "RUST_LOG": "warn", "RATE_LIMIT_IP_PER_SEC": "0", "RATE_LIMIT_USER_PER_SEC": "0"}

        first_label, first_service = services[0]
        # One request of each kind, captured; the delete takes the last task, which no
        # wrk run deletes.
        requests = [(1, body(READ_QUERY)), (2, body(CREATE, t="bench task")), (owner(1), body(TOGGLE, id=task_id(1))),
                    (owner(2), body(UPDATE, id=task_id(2), t="renamed")), (owner(TASKS), body(DELETE, id=task_id(TASKS)))]
        captured = capture_statements(url, name, first_service, env(first_label), ports[first_label], requests)
        scripts, defines = {}, {}
        read, d = pgbench_script(captured[0], directory, "tasks", USER_SETS)
        scripts["reads"], defines["reads"] = [read], d
        writes = [
            pgbench_script(captured[1], directory, "create", USER_SETS + ["\\set newid 1000000000000 + random(1, 999999999999)"],
                           new_task=True),
            pgbench_script(captured[2], directory, "toggle", task_sets(1, HALF), task=1),
            pgbench_script(captured[3], directory, "update", task_sets(1, HALF), task=2),
            pgbench_script(captured[4], directory, "delete", task_sets(PGBENCH_DELETES, TASKS - 1), task=TASKS),
        ]
        scripts["writes"] = [path for path, _ in writes]
        defines["writes"] = [arg for _, d in writes for arg in d]

        load_before = os.getloadavg()
        startup = {}
        for label, service in services:
            for mode in ("disable", "require"):
                proc, seconds = start(service, env(label, mode), ports[label])
                stop(proc)
                startup[(label, mode)] = seconds
        procs, rss_idle = {}, {}
        results = {mix: {"pgbench": []} | {label: [] for label, _ in services} for mix in MIXES}
        try:
            for label, service in services:
                procs[label], _ = start(service, env(label), ports[label])
            time.sleep(1)
            for label, _ in services:
                rss_idle[label] = status_kib(procs[label].pid, "VmRSS")
            runs = ROUNDS * len(services)
            slice_size = (PGBENCH_DELETES - 1 - HALF) // max(runs, 1)
            run = 0
            for _ in range(ROUNDS):
                for mix in MIXES:
                    for label, _ in services:
                        args = [str(HALF + 1 + run * slice_size)] if mix == "writes" else []
                        if mix == "writes":
                            run += 1
                        results[mix][label].append(run_wrk(lua[mix], ports[label], procs[label], master, name, args))
                    results[mix]["pgbench"].append(
                        run_pgbench(url_nossl, scripts[mix], defines[mix], directory, master, name,
                                    PGBENCH_CLIENTS[mix]))
            rss_peak = {label: status_kib(procs[label].pid, "VmHWM") for label, _ in services}
            deep = {label: deep_page(ports[label]) for label, _ in services}
        finally:
            for proc in procs.values():
                stop(proc)

        now = datetime.datetime.now(datetime.timezone.utc)
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        say(f"bench/throughput.py  {now:%Y-%m-%d %H:%M} UTC  host {socket.gethostname()}  {os.cpu_count()} cpus ({cpu})"
            f"  load average at start {load_before[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
        say(f"PostgreSQL {psql(url, 'SHOW server_version').strip()}; {USERS} users with sessions, {TASKS} tasks "
            f"(seeded in {seed_s:.1f} s); wrk {CONNECTIONS} connections, pgbench "
            f"{', '.join(f'{PGBENCH_CLIENTS[m]} for {m}' for m in MIXES)}, {THREADS} threads each; {ROUNDS} rounds of "
            f"{DURATION} s each, wrk then pgbench, interleaved; sslmode=disable, rate limits off")
        for label, service in services:
            say(f"service {label}: {os.path.relpath(service, ROOT) if service.startswith(ROOT) else service}")
        say(f"reads: {READ_QUERY}")
        say(f"writes: in turn {CREATE} | {TOGGLE} | {UPDATE} | {DELETE}")
        say("statements captured from the server log (log_statement = 'all'), run by pgbench -M prepared:")
        for mix in MIXES:
            for script in scripts[mix]:
                say(f"  -- {os.path.basename(script)}")
                for line in open(script):
                    say("  " + line.rstrip())
            say(f"  pgbench -D: {' '.join(d for d in defines[mix] if d != '-D') or '(none)'}")
        say("(some load on this shared machine comes from other processes; CPU figures are per request")
        say(" in µs over each phase; PostgreSQL CPU is the backends of the bench database, sampled every 0.1 s)")
        chart_rows = []
        for mix in MIXES:
            say()
            say(f"{mix}:")
            say()
            say("| what | req/s | ratio to pgbench | p50 ms | p99 ms | errors | service CPU µs/req | PostgreSQL CPU µs/req | PG CPU ratio |")
            say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            rows = results[mix]
            for r in range(ROUNDS):
                p = rows["pgbench"][r]
                say(f"| pgbench, round {r + 1} | {p['rps']:,.0f} | 1.00 | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['errors']} | — | {p['pg_us']:.0f} | 1.00 |")
                for label, _ in services:
                    s = rows[label][r]
                    say(f"| {label}, round {r + 1} | {s['rps']:,.0f} | {s['rps'] / p['rps']:.2f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']} | {s['service_us']:.0f} | {s['pg_us']:.0f} | {s['pg_us'] / p['pg_us']:.2f} |")
            means = [("pgbench", {k: mean(rows["pgbench"], k) for k in rows["pgbench"][0]})]
            means += [(label, {k: mean(rows[label], k) for k in rows[label][0]}) for label, _ in services]
            p = means[0][1]
            say(f"| **pgbench, mean** | {p['rps']:,.0f} | 1.00 | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['errors']:.0f} | — | {p['pg_us']:.0f} | 1.00 |")
            for label, s in means[1:]:
                say(f"| **{label}, mean** | {s['rps']:,.0f} | {s['rps'] / p['rps']:.2f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']:.0f} | {s['service_us']:.0f} | {s['pg_us']:.0f} | {s['pg_us'] / p['pg_us']:.2f} |")
            chart_rows.append((mix, means))
        say()
        for label, _ in services:
            say(f"{label}: resident memory idle {rss_idle[label] / 1024:.1f} MiB, peak {rss_peak[label] / 1024:.1f} MiB "
                f"(VmRSS 1 s after start, VmHWM after the load); start-up to the first answered tasks request "
                f"{startup[(label, 'disable')] * 1000:.0f} ms with sslmode=disable, "
                f"{startup[(label, 'require')] * 1000:.0f} ms with sslmode=require")
        for label, _ in services:
            first_ms, deep_ms = deep[label]
            say(f"{label}: a page {DEEP:,} rows deep (cursor), p50 {deep_ms:.2f} ms against {first_ms:.2f} ms for the "
                f"first page: {deep_ms / first_ms:.2f}x ({DEEP_SAMPLES} of each, interleaved, one connection)")
        say(f"psql -c 'SELECT 1' (process start, connect, one statement): {connect_ms(url, 'disable'):.0f} ms with "
            f"sslmode=disable, {connect_ms(url, 'require'):.0f} ms with sslmode=require (best of 5)")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        stem = os.path.join(ROOT, "bench", "results", f"throughput-{now:%Y-%m-%d}-{socket.gethostname()}")
        n = 1
        while os.path.exists(stem + (f"-{n}" if n > 1 else "") + ".txt"):
            n += 1
        stem += f"-{n}" if n > 1 else ""
        with open(stem + ".txt", "w") as f:
            f.write("\n".join(lines) + "\n")
        chart(stem + ".svg", f"bench/throughput.py, {now:%Y-%m-%d}, {socket.gethostname()}, "
              f"{os.cpu_count()} cpus, {CONNECTIONS} connections", chart_rows)
        print(f"written to {os.path.relpath(stem, ROOT)}.txt and .svg")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        try:
            psql(SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError as e:
            print(f"could not drop {name}: {e.stderr}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
