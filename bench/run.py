#!/usr/bin/env python3
"""Measures the release binary side by side with a baseline (a bare axum server):
size, time from start to the first answered request, resident memory idle and
after 10,000 requests. Prints each figure and its ratio to the baseline.

    cargo build --release --bin todo-graphql
    cargo build --release --manifest-path bench/baseline/Cargo.toml
    python3 bench/run.py

Needs PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
and psql on PATH. Loopback only; every loop is bounded.
"""
import base64, hashlib, hmac, http.client, json, os, secrets, socket, statistics, subprocess, sys, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SERVICE = os.path.join(TARGET, "release", "todo-graphql")
BASELINE = os.path.join(ROOT, "bench", "baseline", "target", "release", "baseline")
SERVER = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-0123456789abcdef0123456789"
REQUESTS = 10_000
STARTS = 7


def psql(database_url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", database_url, "-c", sql], check=True, capture_output=True)


def with_db(name):
    u = urllib.parse.urlparse(SERVER)
    return urllib.parse.urlunparse(u._replace(path="/" + name))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(cmd, env, port, path, body=None, headers=None):
    """Starts a server; answers (process, seconds until the first answered request)."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = began + 30
    while time.perf_counter() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST" if body else "GET", path, body=body, headers=headers or {})
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - began
        except OSError:
            time.sleep(0.002)
    proc.kill()
    raise SystemExit(f"{cmd[0]} did not answer within 30 s")


def load(port, path, body, headers, total=REQUESTS, threads=8):
    """`total` requests over keep-alive connections; answers requests per second."""
    per = total // threads
    failures = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per):
            conn.request("POST" if body else "GET", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} failed requests: {failures[:5]}")
    return per * threads / (time.perf_counter() - began)


def main():
    for binary in (SERVICE, BASELINE):
        if not os.path.exists(binary):
            raise SystemExit(f"missing {binary}: build it first (see the docstring)")
    name = "bench_" + secrets.token_hex(4)
    psql(SERVER, f"CREATE DATABASE {name}")
    url = with_db(name)
    try:
        psql(url, open(os.path.join(ROOT, "tests", "fixtures", "better-auth", "schema.sql")).read())
        user, token = secrets.token_hex(16), secrets.token_hex(16)
        psql(url, f"""INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") VALUES ('{user}', 'Bench', 'bench@example.com', true, now(), now());
                     INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "userId") VALUES ('{token[:8]}', now() + interval '1 day', '{token}', now(), now(), '{user}');""")
        subprocess.run([SERVICE, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": url, "BETTER_AUTH_SECRET": SECRET}, check=True, capture_output=True)
        psql(url, f"INSERT INTO tasks SELECT gen_random_uuid(), 'task ' || n, NULL, n % 3 = 0, '{user}', now(), now() FROM generate_series(1, 200) n")
        signature = base64.b64encode(hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
        cookie = "better-auth.session_token=" + urllib.parse.quote(f"{token}.{signature}", safe=".")
        query = json.dumps({"query": "{ tasks(first: 20) { nodes { id title completed createdAt owner { email } } pageInfo { hasNextPage } } }"})
        gql_headers = {"content-type": "application/json", "cookie": cookie}

        results = {}
        for label, cmd, path, body, headers in (
            ("baseline", [BASELINE], "/health", None, {}),
            ("service", [SERVICE], "/graphql", query, gql_headers),
        ):
            starts, rss_idle, rss_loaded, rates = [], [], [], []
            for run in range(STARTS):
                port = free_port()
                env = {"PATH": os.environ["PATH"], "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": url,
                       "BETTER_AUTH_SECRET": SECRET, "LOG_FORMAT": "json", "RUST_LOG": "warn"}
                proc, seconds = start(cmd, env, port, path, body, headers)
                starts.append(seconds)
                if run == 0:
                    time.sleep(1)
                    rss_idle.append(rss_kib(proc.pid))
                    rates.append(load(port, path, body, headers))
                    time.sleep(0.5)
                    rss_loaded.append(rss_kib(proc.pid))
                proc.terminate()
                proc.wait(timeout=30)
            results[label] = {
                "size_bytes": os.path.getsize(cmd[0]),
                "start_ms": statistics.median(starts) * 1000,
                "rss_idle_kib": rss_idle[0],
                "rss_after_kib": rss_loaded[0],
                "requests_per_s": rates[0],
            }
        print(f"{'figure':<24}{'service':>14}{'baseline':>14}{'ratio':>10}")
        for key in ("size_bytes", "start_ms", "rss_idle_kib", "rss_after_kib", "requests_per_s"):
            s, b = results["service"][key], results["baseline"][key]
            print(f"{key:<24}{s:>14.1f}{b:>14.1f}{s / b:>10.2f}")
        print(f"(start: median of {STARTS}, first answered request; memory: VmRSS before and after {REQUESTS} requests;"
              f" service requests are tasks(first: 20) with owners and a session cookie, baseline requests GET /health)")
    finally:
        psql(SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
