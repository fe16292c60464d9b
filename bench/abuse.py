#!/usr/bin/env python3
"""Abuse benchmark (issue 8): the worst document that fits in MAX_BODY_BYTES for each
limit, and the worst batch, against the RELEASE binary. For each: the HTTP status,
the error code, the response size, the service's CPU time for that request
(/proc/<pid>/stat utime+stime) and the process's peak resident memory while it ran
(VmHWM, reset through /proc/<pid>/clear_refs before each request). Prints a table,
the largest CPU time per request and the peak RSS overall, against the targets: no
request above 50 ms of CPU, the process never above 64 MiB resident.

    cargo build --release --bin todo-graphql
    python3 bench/abuse.py            # the full documents
    python3 bench/abuse.py --small    # smaller bombs and fewer APQ posts, for a
                                      # binary without the limits (the "before" figure)

Needs PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
and psql on PATH. Loopback only. Every loop is bounded; a request gets REQUEST_WAIT
seconds, and the service is killed (and restarted for the next case) when its resident
memory passes KILL_RSS_MIB or it does not answer in time.
"""
import base64, hashlib, hmac, http.client, json, os, secrets, socket, subprocess, sys, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SERVICE = os.environ.get("SERVICE", os.path.join(TARGET, "release", "todo-graphql"))
SERVER = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-0123456789abcdef0123456789"
SMALL = "--small" in sys.argv
MAX_BODY_BYTES = 1024 * 1024
BUDGET = (100 * 1024 if SMALL else MAX_BODY_BYTES - 1024)  # a document's JSON-encoded size
QUERY_BUDGET = 256 * 1024 - 64  # just under MAX_QUERY_BYTES's default
FRAGMENT_BOMB = 22 if SMALL else 30
APQ_POSTS = 20 if SMALL else 200
APQ_DOCUMENT_BYTES = 1_000_000
REQUEST_WAIT = 20
KILL_RSS_MIB = 1024
TARGET_CPU_MS, TARGET_RSS_MIB = 50, 64
TICKS = os.sysconf("SC_CLK_TCK")
INTROSPECTION = open(os.path.join(ROOT, "tests", "fixtures", "introspection.graphql")).read()
SCHEMA_FRAGMENT = ("fragment S on __Schema { types { name kind description fields { name description "
                   "args { name description defaultValue type { name kind ofType { name kind } } } "
                   "type { name kind ofType { name kind ofType { name } } } isDeprecated deprecationReason } "
                   "inputFields { name description defaultValue type { name kind } } enumValues { name description } "
                   "interfaces { name } possibleTypes { name } } directives { name description locations args { name } } }")


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True)


def with_db(name):
    return urllib.parse.urlunparse(urllib.parse.urlparse(SERVER)._replace(path="/" + name))


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS


def json_len(text):
    return len(json.dumps(text)) - 2


def fill(head, unit, tail, budget=None):
    """head, then unit(i) for i = 0, 1, … while the JSON-encoded document fits, then tail."""
    budget = budget or BUDGET
    parts, used, i = [head], json_len(head) + json_len(tail), 0
    while True:
        piece = unit(i)
        used += json_len(piece)
        if used > budget:
            break
        parts.append(piece)
        i += 1
    return "".join(parts) + tail


def fragment_bomb(n):
    frags = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(n))
    return "{ ...F0 }\n" + frags + f"fragment F{n} on Query {{ __typename }}\n"


def near_limit_introspection():
    fragments = INTROSPECTION[INTROSPECTION.index("fragment FullType"):]
    return ("query Near { s0: __schema { ...Schema } s1: __schema { ...Schema } s2: __schema { ...Schema } }\n"
            "fragment Schema on __Schema { types { ...FullType } directives { name locations args { ...InputValue } } }\n"
            + fragments)


def cases():
    """(label, body, signed in) for every limit, the worst that fits in one body."""
    q = lambda doc, **extra: json.dumps({"query": doc, **extra})
    batch = lambda docs: json.dumps([{"query": d} for d in docs])
    tasks = " ".join(f"t{i}: tasks(first: 100) {{ nodes {{ id title description createdAt updatedAt owner {{ email name }} }} }}" for i in range(1))
    return [
        ("standard introspection (GraphiQL)", q(INTROSPECTION), False),
        (f"fields: fragment bomb n={FRAGMENT_BOMB}", q(fragment_bomb(FRAGMENT_BOMB)), False),
        ("aliases: introspection alias bomb", q(fill("{", lambda i: f" a{i}: __schema {{ ...S }}", "}\n" + SCHEMA_FRAGMENT)), False),
        ("aliases: __typename", q(fill("{", lambda i: f" a{i}: __typename", " }")), False),
        ("tokens: __typename", q(fill("{", lambda i: " __typename", " }")), False),
        ("directives: on one field", q(fill("{ __typename", lambda i: " @include(if: true)", " }")), False),
        ("depth: {a{a{...}}}", q("{a" * (BUDGET // 3) + "}" * (BUDGET // 3)), False),
        ("depth: __type fields{type{...}}", q("{ __type(name: \"Query\") { " + "fields { type { " * 30 + "name" + " } }" * 30 + " } }"), False),
        ("introspection roots: __type", q(fill("{", lambda i: f" t{i}: __type(name: \"Task\") {{ fields {{ name type {{ name }} }} }}", " }")), False),
        ("operations: query Qi {...}", q(fill("", lambda i: f"query Q{i} {{ __typename }}\n", ""), operationName="Q0"), False),
        (f"comments: {BUDGET >> 10} KiB", q(fill("", lambda i: "# a comment line the lexer has to skip\n", "{ __typename }")), False),
        (f"string: {BUDGET >> 10} KiB argument", q("{ __type(name: \"" + "a" * (BUDGET - 40) + "\") { name } }"), False),
        (f"comments: {QUERY_BUDGET >> 10} KiB (MAX_QUERY_BYTES)", q(fill("", lambda i: "# a comment line the lexer has to skip\n", "{ __typename }", QUERY_BUDGET)), False),
        (f"string: {QUERY_BUDGET >> 10} KiB argument (MAX_QUERY_BYTES)", q("{ __type(name: \"" + "a" * (QUERY_BUDGET - 40) + "\") { name } }"), False),
        (f"batch: 4 x {QUERY_BUDGET >> 10} KiB comments", batch([fill("", lambda i: "# a comment line the lexer has to skip\n", "{ __typename }", QUERY_BUDGET)] * 4), False),
        ("response size: 100 tasks (complexity-bound)", q("{ " + tasks + " }"), True),
        ("batch: 10 alias bombs", batch([fill("{", lambda i: f" a{i}: __schema {{ ...S }}", "}\n" + SCHEMA_FRAGMENT, BUDGET // 10 - 64)] * 10), False),
        ("batch: 10 near-limit introspections", batch([near_limit_introspection()] * 10), False),
        (f"batch: 10 fragment bombs n={FRAGMENT_BOMB}", batch([fragment_bomb(FRAGMENT_BOMB)] * 10), False),
    ]


class Service:
    def __init__(self, url, cookie):
        self.url, self.cookie, self.proc = url, cookie, None

    def start(self):
        self.port = free_port()
        env = {"PATH": os.environ["PATH"], "PORT": str(self.port), "HOST": "127.0.0.1", "DATABASE_URL": self.url,
               "BETTER_AUTH_SECRET": SECRET, "LOG_FORMAT": "json", "RUST_LOG": "error", "RUN_MIGRATIONS": "true",
               # What a document costs is measured here, not the rate limits: 200 posts
               # from one address would otherwise meet the per-IP limit (429) first.
               "RATE_LIMIT_IP_PER_SEC": "0", "RATE_LIMIT_USER_PER_SEC": "0"}
        self.proc = subprocess.Popen([SERVICE], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the service did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def post(self, body, signed_in):
        """One request, measured; answers (status, code, response bytes, cpu ms, peak RSS bytes, note)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        pid = self.proc.pid
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        before = cpu_ms(pid)
        state = {"peak": proc_status(pid, "VmHWM"), "killed": None, "done": False}

        def watchdog():
            while not state["done"] and self.proc.poll() is None:
                rss = proc_status(pid, "VmRSS")
                state["peak"] = max(state["peak"], proc_status(pid, "VmHWM"), rss)
                if rss > KILL_RSS_MIB * 1024 * 1024:
                    state["killed"] = f"killed at {rss >> 20} MiB"
                    self.proc.kill()
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=watchdog)
        watcher.start()
        headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
        if signed_in:
            headers["cookie"] = self.cookie
        status, code, size, note = "-", "-", 0, ""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_WAIT)
            conn.request("POST", "/graphql", body=body.encode(), headers=headers)
            response = conn.getresponse()
            data = response.read()
            status, size = response.status, len(data)
            answer = json.loads(data)
            first = answer[0] if isinstance(answer, list) and answer else answer
            code = ((first.get("errors") or [{}])[0].get("extensions") or {}).get("code") or "ok"
        except (OSError, http.client.HTTPException, ValueError) as err:
            note = f"no answer in {REQUEST_WAIT} s" if isinstance(err, socket.timeout) else type(err).__name__
        state["done"] = True
        watcher.join()
        alive = self.proc.poll() is None
        cpu = cpu_ms(pid) - before if alive else float("nan")
        peak = max(state["peak"], proc_status(pid, "VmHWM")) if alive else state["peak"]
        if state["killed"] or not alive or note:
            note = state["killed"] or note or "the service died"
            self.stop()
        return status, code, size, cpu, peak, note


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def apq_cases(service):
    """200 registrations of ~1 MB documents, unparseable and then parseable: the largest CPU per request and the peak RSS."""
    rows = []
    for label, tail in (("APQ: comment-only 1 MB documents", ""), ("APQ: parseable 1 MB documents", "{ __typename }")):
        worst_cpu, peak, status, code, note, before = 0.0, 0, "-", "-", "", None
        for n in range(APQ_POSTS):
            doc = f"# {label} {n}\n" + "# filler filler filler filler filler filler filler filler\n" * (APQ_DOCUMENT_BYTES // 58) + tail
            digest = hashlib.sha256(doc.encode()).hexdigest()
            body = json.dumps({"query": doc, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})
            if before is None and service.proc and service.proc.poll() is None:
                before = proc_status(service.proc.pid, "VmRSS")
            status, code, _, cpu, rss, note = service.post(body, False)
            worst_cpu, peak = max(worst_cpu, cpu), max(peak, rss)
            if note:
                break
        grew = f"RSS +{(peak - (before or 0)) >> 20} MiB over {n + 1} posts"
        rows.append((label + f" x{APQ_POSTS}", status, code, 0, worst_cpu, peak, note or grew))
    return rows


def main():
    if not os.path.exists(SERVICE):
        raise SystemExit(f"missing {SERVICE}: cargo build --release --bin todo-graphql")
    name = "abuse_" + secrets.token_hex(4)
    psql(SERVER, f"CREATE DATABASE {name}")
    url = with_db(name)
    service = None
    try:
        psql(url, open(os.path.join(ROOT, "tests", "fixtures", "better-auth", "schema.sql")).read())
        user, token = secrets.token_hex(16), secrets.token_hex(16)
        psql(url, f"""INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") VALUES ('{user}', 'Abuse', 'abuse@example.com', true, now(), now());
                     INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId") VALUES ('{token[:8]}', now() + interval '1 day', '{token}', now(), now(), '{user}');""")
        subprocess.run([SERVICE, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": url, "BETTER_AUTH_SECRET": SECRET}, check=True, capture_output=True)
        psql(url, f"INSERT INTO tasks SELECT gen_random_uuid(), rpad('task ' || n, 200, '.'), repeat('d', 1000), false, '{user}', now(), now() FROM generate_series(1, 100) n")
        signature = base64.b64encode(hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
        service = Service(url, "better-auth.session_token=" + urllib.parse.quote(f"{token}.{signature}", safe="."))
        service.start()
        idle = proc_status(service.proc.pid, "VmRSS")
        rows = []
        for label, body, signed_in in cases():
            if len(body) > MAX_BODY_BYTES:
                raise SystemExit(f"{label}: {len(body)} bytes is over MAX_BODY_BYTES")
            rows.append((label, *service.post(body, signed_in)))
            print(f"  measured {label}", file=sys.stderr)
        rows += apq_cases(service)
        print(f"{'case':<44}{'HTTP':>5} {'code':<28}{'resp KiB':>9}{'CPU ms':>9}{'peak MiB':>9}  note")
        for label, status, code, size, cpu, peak, note in rows:
            print(f"{label:<44}{status!s:>5} {code!s:<28}{size / 1024:>9.0f}{cpu:>9.0f}{peak / 2**20:>9.0f}  {note}")
        worst_cpu = max((r[4] for r in rows if r[4] == r[4]), default=0)
        killed = [r[0] for r in rows if r[6] and not r[6].startswith("RSS +")]
        peak = max(r[5] for r in rows)
        print(f"\nidle RSS {idle >> 20} MiB; largest CPU per request {worst_cpu:.0f} ms (target {TARGET_CPU_MS});"
              f" peak RSS {peak >> 20} MiB (target {TARGET_RSS_MIB}); killed or unanswered: {len(killed)}")
        ok = worst_cpu <= TARGET_CPU_MS and peak <= TARGET_RSS_MIB << 20 and not killed
        print("targets met" if ok else "targets NOT met" + (f" ({', '.join(killed)})" if killed else ""))
        return 0 if ok else 1
    finally:
        if service:
            service.stop()
        psql(SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
