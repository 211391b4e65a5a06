"""Black-box test harness for dealmap: starts the real binary, talks HTTP to it.

Python 3 standard library only.  The pieces:

  Server      init + serve a dealmap on a temporary database and a free port;
              stop() sends SIGTERM and returns the exit code.
  Client      one keep-alive connection, a cookie jar or a bearer token,
              JSON helpers; records every endpoint it calls (for test_99).
  Org         the fixture: a team tree and the users of each visibility case.
  ApiTestCase one server (and optionally the Org) per test module.

Environment: DEALMAP_BIN (default build/dealmap under the repository root),
DEALMAP_KEEP=1 keeps the temporary directories, DEALMAP_VERBOSE=1 prints the
server log when a server stops, DEALMAP_SERVE_ARGS adds arguments to every
`dealmap serve` (e.g. "--threads 64", to compare settings under test_94's load).

The store: DEALMAP_TEST_STORE=pg runs every server on PostgreSQL instead of a
SQLite file. DEALMAP_TEST_PG is then the URL of a database the tests may
create databases from (a superuser's, e.g. postgres://postgres@127.0.0.1:PORT/
postgres; scripts/pg-run.sh starts a private cluster and sets it): each
new_db() is a fresh `CREATE DATABASE dm_<random>`, dropped at cleanup.
Tests that only make sense for one store say so with only_sqlite()/only_pg().
"""

import http.client
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("DEALMAP_BIN") or os.path.join(REPO, "build", "dealmap")
if not os.path.isabs(BIN):
    BIN = os.path.join(REPO, BIN)

# Strong passwords (the server checks new ones with cracklib).
ADMIN_PW = "Zr4!kQ8#wN2$mV"
PW = "Tq7#vLp9-xZ2!"
PW2 = "Hx5&jT3@pL7^cB"

API = "/api/v1"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# (METHOD, normalised path) of every request a Client made with record=True.
USED_ENDPOINTS = set()
_used_lock = threading.Lock()

_counter = itertools.count(1)

STORE = os.environ.get("DEALMAP_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "pg"):
    raise RuntimeError("DEALMAP_TEST_STORE must be sqlite or pg, not %r" % STORE)
PG_BASE = os.environ.get("DEALMAP_TEST_PG", "")
if STORE == "pg" and not PG_BASE:
    raise RuntimeError("DEALMAP_TEST_STORE=pg needs DEALMAP_TEST_PG (see scripts/pg-run.sh)")


def psql(url, sql):
    """Run one SQL statement with psql; returns its output (unaligned, tuples only)."""
    r = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql, r.stderr.strip()))
    return r.stdout.strip()


def is_pg(db):
    return db.startswith("postgres://") or db.startswith("postgresql://")


def new_db(tmpdir, name="x.db"):
    """A fresh, empty database for one test: a SQLite file path in tmpdir, or
    with DEALMAP_TEST_STORE=pg the URL of a new PostgreSQL database."""
    if STORE != "pg":
        return os.path.join(tmpdir, name)
    dbname = "dm_%s" % uuid.uuid4().hex[:16]
    psql(PG_BASE, 'CREATE DATABASE "%s"' % dbname)
    return PG_BASE.rsplit("/", 1)[0] + "/" + dbname


def drop_db(db):
    """Drop a database new_db() made (a SQLite file is left to its directory)."""
    if is_pg(db) and not os.environ.get("DEALMAP_KEEP"):
        psql(PG_BASE, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db.rsplit("/", 1)[1])


def db_ready(db):
    """Has `dealmap init` made this database?"""
    if not is_pg(db):
        return os.path.exists(db)
    return psql(db, "SELECT to_regclass('schema_version') IS NOT NULL") == "t"


def db_rows(db, sql):
    """The rows of a query on a test database: tuples of values on SQLite, of text (NULL as "")
    on PostgreSQL."""
    if not is_pg(db):
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    r = subprocess.run(["psql", db, "-qAtX", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql, r.stderr.strip()))
    return [tuple(line.split("\x1f")) for line in r.stdout.splitlines()]


def only_sqlite(reason):
    """Skip a test on PostgreSQL, saying why (it inspects or restores a SQLite file)."""
    return unittest.skipIf(STORE == "pg", "SQLite only: " + reason)


def only_pg(reason):
    return unittest.skipIf(STORE != "pg", "PostgreSQL only: " + reason)


def uniq(prefix="x"):
    """A name unique within this test process (and across runs)."""
    return "%s-%d-%d" % (prefix, os.getpid() % 10000, next(_counter))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def normalise_path(path):
    """/api/v1/accounts/12/restore?x=1 -> /api/v1/accounts/{}/restore"""
    path = path.split("?", 1)[0]
    return "/".join("{}" if seg.isdigit() else seg for seg in path.split("/"))


def run_cli(args, timeout=60, input=None, env=None):
    """Run the dealmap binary; returns CompletedProcess with text output."""
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout, input=input, env=env)


# --------------------------------------------------------------------------
# Server


def run_threads(n, fn):
    """Run fn(i) in n threads started together; returns the list of results
    (or the exception raised) in thread order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def body(i):
        try:
            barrier.wait(10)
            out[i] = fn(i)
        except BaseException as e:  # reported by the caller
            out[i] = e
    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out

class Server:
    """One dealmap process on a temporary database."""

    def __init__(self, tmpdir=None, admin_password=ADMIN_PW, db=None):
        self._own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="dealmap-test-")
        self._own_db = db is None
        self.db = db or new_db(self.tmpdir)
        self.admin_password = admin_password
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.log_path = None
        self._logs = 0

    # -- lifecycle
    def init(self):
        if not os.path.exists(BIN):
            raise RuntimeError("dealmap binary not found at %s (set DEALMAP_BIN or build it)" % BIN)
        r = run_cli(["init", "--db", self.db, "--admin-password", self.admin_password])
        if r.returncode != 0:
            raise RuntimeError("dealmap init failed (%d):\n%s\n%s" % (r.returncode, r.stdout, r.stderr))
        return r

    def start(self, init=True, timeout=15):
        if init and not db_ready(self.db):
            self.init()
        self.port = free_port()
        self._logs += 1
        self.log_path = os.path.join(self.tmpdir, "serve-%d.log" % self._logs)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--listen", "%s:%d" % (self.host, self.port)]
            + os.environ.get("DEALMAP_SERVE_ARGS", "").split(),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dealmap serve exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                c = http.client.HTTPConnection(self.host, self.port, timeout=2)
                c.request("GET", API + "/health")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("dealmap serve did not answer /health within %ss:\n%s" % (timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal the server and wait; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
            else:
                rc = self.proc.returncode
        else:
            rc = self.proc.returncode
        self.proc = None
        if os.environ.get("DEALMAP_VERBOSE"):
            sys.stderr.write("---- server log %s\n%s\n" % (self.log_path, self.log_tail(200)))
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.kill()
        if self._own_db:
            drop_db(self.db)
            self._own_db = False
        if self._own_tmp and not os.environ.get("DEALMAP_KEEP"):
            import shutil
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except (OSError, TypeError):
            return "(no log)"

    # -- convenience
    def client(self, **kw):
        return Client(self, **kw)

    def login(self, username, password, cookies=False):
        c = Client(self, cookies=cookies)
        r = c.login(username, password)
        if r.status != 200:
            raise AssertionError("login %s failed: %r" % (username, r))
        return c

    def admin(self, cookies=False):
        return self.login("admin", self.admin_password, cookies=cookies)


# --------------------------------------------------------------------------
# Client


class Response:
    def __init__(self, status, reason, headers, body, method, path):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.method = method
        self.path = path
        self._json = None
        self._parsed = False

    @property
    def json(self):
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    @property
    def error(self):
        j = self.json
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"]
        return None

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def header_all(self, name):
        return self.headers.get_all(name) or [] if self.headers is not None else []

    def __repr__(self):
        body = self.body[:600]
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        return "<%s %s -> %s %r>" % (self.method, self.path, self.status, body)


_NOBODY = object()


class Client:
    """A keep-alive HTTP client for one user.

    cookies=False: after login() it sends `Authorization: Bearer <token>`.
    cookies=True: it keeps a cookie jar and sends X-CSRF-Token = dm_csrf on
    writes (unless csrf=False or a string is passed to request()).
    """

    def __init__(self, server, cookies=False, token=None, timeout=30):
        self.host = server.host
        self.port = server.port
        self.use_cookies = cookies
        self.token = token
        self.jar = {}
        self.timeout = timeout
        self.conn = None
        self.user = None

    @property
    def id(self):
        return self.user["id"] if self.user else None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _update_jar(self, headers):
        for sc in headers.get_all("Set-Cookie") or []:
            parts = [p.strip() for p in sc.split(";")]
            if "=" not in parts[0]:
                continue
            name, value = parts[0].split("=", 1)
            attrs = {}
            for p in parts[1:]:
                k, _, v = p.partition("=")
                attrs[k.strip().lower()] = v.strip()
            expired = value == "" or attrs.get("max-age") in ("0", "-1")
            if "expires" in attrs and not expired:
                try:
                    import email.utils
                    when = email.utils.parsedate_to_datetime(attrs["expires"])
                    expired = when.timestamp() < time.time()
                except (TypeError, ValueError):
                    pass
            if expired:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def request(self, method, path, body=_NOBODY, raw=None, headers=None, query=None,
                csrf=None, auth=True, record=True, timeout=None):
        if not path.startswith("/"):
            path = API + "/" + path
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        hdrs = {}
        if auth and self.token and not self.use_cookies:
            hdrs["Authorization"] = "Bearer " + self.token
        if self.use_cookies and self.jar:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.jar.items())
        if method not in ("GET", "HEAD", "OPTIONS") and self.use_cookies:
            if csrf is None:
                if "dm_csrf" in self.jar:
                    hdrs["X-CSRF-Token"] = self.jar["dm_csrf"]
            elif csrf is not False:
                hdrs["X-CSRF-Token"] = csrf
        data = None
        if raw is not None:
            data = raw
        elif body is not _NOBODY:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if data is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/json"
        if method in ("POST", "PUT", "PATCH") and data is None:
            hdrs["Content-Length"] = "0"
        if headers:
            hdrs.update(headers)
        if record and path.startswith(API):
            with _used_lock:
                USED_ENDPOINTS.add((method, normalise_path(path)))
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.close()
                if fresh or attempt == 1:
                    raise
                continue  # a stale keep-alive connection: retry once on a new one
            if resp.will_close:
                self.close()
            self._update_jar(resp.headers)
            return Response(resp.status, resp.reason, resp.headers, payload, method, path)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=_NOBODY, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=_NOBODY, **kw):
        return self.request("PATCH", path, body, **kw)

    def put(self, path, body=_NOBODY, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, username, password):
        r = self.post("auth/login", {"username": username, "password": password}, csrf=False)
        if r.status == 200 and isinstance(r.json, dict):
            self.user = r.json.get("user")
            if not self.use_cookies:
                self.token = r.json.get("token")
        return r

    def list_all(self, path, query=None, limit=500, max_pages=1000):
        """Follow `next` cursors; returns the concatenated items."""
        q = dict(query or {})
        q["limit"] = limit
        items = []
        for _ in range(max_pages):
            r = self.get(path, query=q)
            if r.status != 200:
                raise AssertionError("list %s failed: %r" % (path, r))
            items.extend(r.json["items"])
            if not r.json.get("next"):
                return items
            q["cursor"] = r.json["next"]
        raise AssertionError("list %s: more than %d pages" % (path, max_pages))


# --------------------------------------------------------------------------
# Raw sockets (for the limits tests)


def raw_request(server, data, timeout=10, read_all=True):
    """Send raw bytes, return (status or None, raw response bytes)."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        s.sendall(data)
        return _read_status(s, read_all)
    finally:
        s.close()


def _read_status(s, read_all=True):
    """Read one response: the head, then Content-Length bytes of body (or up
    to EOF when there is no length). read_all=False stops after the head."""
    buf = b""
    want = None
    try:
        while True:
            if want is not None and len(buf) >= want:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if want is None and b"\r\n\r\n" in buf:
                head, _, _ = buf.partition(b"\r\n\r\n")
                if not read_all:
                    break
                m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                if m:
                    want = len(head) + 4 + int(m.group(1))
    except (ConnectionResetError, socket.timeout):
        pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return (int(m.group(1)) if m else None), buf


# --------------------------------------------------------------------------
# The fixture


class Org:
    """Teams and users for the visibility cases.

        company  (manager: top)
        ├── region   (manager: mgr  = "manager above" the reps)
        │   └── branch       rep1, rep2
        └── sibling  (manager: other_mgr = "other manager")   rep3

    Each user is a logged-in bearer Client: self.admin, self.top, self.mgr,
    self.other_mgr, self.rep1, self.rep2, self.rep3.
    """

    ALL = ("top", "mgr", "other_mgr", "rep1", "rep2", "rep3")

    def __init__(self, server, admin, users=ALL):
        self.server = server
        self.admin = admin
        self.tag = uniq("o").replace("-", "")
        self.teams = {}
        t = self.teams
        t["company"] = self._team("Company", None)
        t["region"] = self._team("Region", t["company"])
        t["branch"] = self._team("Branch", t["region"])
        t["sibling"] = self._team("Sibling", t["company"])
        spec = {
            "top": ("manager", "company"),
            "mgr": ("manager", "region"),
            "other_mgr": ("manager", "sibling"),
            "rep1": ("rep", "branch"),
            "rep2": ("rep", "branch"),
            "rep3": ("rep", "sibling"),
        }
        self.usernames = {}
        self.user_ids = {}
        for key in users:
            role, team = spec[key]
            uname = "%s%s" % (key.replace("_", ""), self.tag)
            self.usernames[key] = uname
            r = admin.post("users", {"username": uname, "display_name": key.upper(), "role": role,
                                     "team_id": t[team], "password": PW})
            if r.status != 201:
                raise AssertionError("fixture: creating user %s failed: %r" % (uname, r))
            self.user_ids[key] = r.json["id"]
        for key, team in (("top", "company"), ("mgr", "region"), ("other_mgr", "sibling")):
            if key in self.user_ids:
                r = admin.patch("teams/%d" % t[team], {"manager_id": self.user_ids[key]})
                if r.status != 200:
                    raise AssertionError("fixture: setting manager of %s failed: %r" % (team, r))
        for key in users:
            setattr(self, key, server.login(self.usernames[key], PW))

    def _team(self, name, parent):
        r = self.admin.post("teams", {"name": "%s %s" % (name, self.tag), "parent_id": parent})
        if r.status != 201:
            raise AssertionError("fixture: creating team %s failed: %r" % (name, r))
        return r.json["id"]


# --------------------------------------------------------------------------
# Base test case


class ApiTestCase(unittest.TestCase):
    """One server per test class (each test module has one class)."""

    ORG_USERS = Org.ALL  # () for no fixture beyond the admin
    server = None
    org = None
    admin = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        try:
            cls.server.start()
            cls.admin = cls.server.admin()
            if cls.ORG_USERS:
                cls.org = Org(cls.server, cls.admin, cls.ORG_USERS)
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        if srv is None:
            return
        alive = srv.alive()
        tail = srv.log_tail()
        rc = srv.stop()
        srv.cleanup()
        if not alive:
            raise AssertionError("the server died during the tests:\n" + tail)
        if rc != 0:
            raise AssertionError("dealmap serve did not exit 0 on SIGTERM (rc=%r):\n%s" % (rc, tail))

    # -- assertions
    def assertStatus(self, r, status, msg=None):
        statuses = status if isinstance(status, (tuple, list, set)) else (status,)
        if r.status not in statuses:
            self.fail("%sexpected %s, got %r" % (msg + ": " if msg else "", status, r))

    def assertError(self, r, status, code=None, field=None, field_prefix=None, msg=None):
        self.assertStatus(r, status, msg)
        err = r.error
        self.assertIsNotNone(err, "no error envelope in %r" % (r,))
        self.assertIn("application/json", r.header("Content-Type") or "", "error without a JSON content type")
        self.assertIsInstance(err.get("code"), str, r)
        self.assertIsInstance(err.get("message"), str, r)
        self.assertIn("field", err, "error has no 'field' key: %r" % (r,))
        if code is not None:
            codes = code if isinstance(code, (tuple, list, set)) else (code,)
            self.assertIn(err["code"], codes, r)
        if field is not None:
            self.assertEqual(err.get("field"), field, r)
        if field_prefix is not None:
            self.assertIsInstance(err.get("field"), str, r)
            self.assertTrue(err["field"].startswith(field_prefix), r)
        return err

    def assertTimestamp(self, value, msg=None):
        self.assertIsInstance(value, str, msg)
        self.assertRegex(value, TS_RE, msg)

    def assertAlive(self):
        r = self.server.client().get("health")
        self.assertEqual(r.status, 200, "server no longer serves /health")

    # -- record helpers
    def create(self, client, things, body, status=201):
        r = client.post(things, body)
        self.assertStatus(r, status, "POST %s %r" % (things, body))
        return r.json

    def account(self, client, **fields):
        fields.setdefault("name", uniq("Acct"))
        return self.create(client, "accounts", fields)

    def contact(self, client, account_id, **fields):
        fields.setdefault("name", uniq("Contact"))
        fields["account_id"] = account_id
        return self.create(client, "contacts", fields)

    def opportunity(self, client, account_id, **fields):
        fields.setdefault("name", uniq("Opp"))
        fields.setdefault("stage", "interest")
        fields.setdefault("amount", 100000)
        fields["account_id"] = account_id
        return self.create(client, "opportunities", fields)

    def activity(self, client, account_id, **fields):
        fields.setdefault("channel", "phone")
        fields.setdefault("occurred_at", "2026-11-20T10:00:00.000Z")
        fields.setdefault("summary", "called")
        fields["account_id"] = account_id
        return self.create(client, "activities", fields)

    def ids(self, items):
        return [i["id"] for i in items]
