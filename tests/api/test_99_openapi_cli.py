"""99: the OpenAPI document, and the command line."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from harness import (ADMIN_PW, API, BIN, PW, PW2, STORE, ApiTestCase, Server, db_rows, drop_db, new_db,
                     psql, run_cli, uniq)

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Every endpoint this suite uses (the ones recorded while running are added).
USED = {
    ("GET", "/api/v1/health"), ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/me"),
    ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/audit"),
}
for _kind in ("users", "teams", "accounts", "contacts", "opportunities", "activities"):
    USED |= {("GET", "/api/v1/" + _kind), ("POST", "/api/v1/" + _kind),
             ("GET", "/api/v1/%s/{}" % _kind), ("PATCH", "/api/v1/%s/{}" % _kind)}
for _kind in ("accounts", "contacts", "opportunities", "activities"):
    USED |= {("DELETE", "/api/v1/%s/{}" % _kind), ("POST", "/api/v1/%s/{}/restore" % _kind)}

ENUMS = {
    "accounts": {"importance": {"A", "B", "C", "VVIP"},
                 "lifecycle": {"acquire", "grow", "mature", "decline", "lost"}},
    "contacts": {"rank": {"executive", "director", "manager", "staff"}},
    "opportunities": {"stage": {"interest", "brewing", "design", "compare", "commit", "use", "won", "lost"}},
    "activities": {"channel": {"phone", "wechat", "sms", "visit", "invite", "email", "meeting", "quote", "demo",
                               "other"}},
    "users": {"role": {"admin", "manager", "rep", "partner"}, "locale": {"zh-CN", "en"}},
}


class OpenApiTest(ApiTestCase):
    ORG_USERS = ("rep1",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.admin.get("openapi.json")
        cls.resp = r
        cls.doc = r.json if r.status == 200 else None

    def setUp(self):
        if self.doc is None:
            self.fail("GET /api/v1/openapi.json: %r" % (self.resp,))

    # -- helpers
    def resolve(self, node, seen=()):
        """Follow local $refs."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            self.assertTrue(ref.startswith("#/"), ref)
            self.assertNotIn(ref, seen, "$ref cycle")
            seen = seen + (ref,)
            cur = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                self.assertIn(part, cur, "unresolvable $ref %s" % ref)
                cur = cur[part]
            node = cur
        return node

    def properties(self, schema):
        """Properties of a schema, merging allOf."""
        schema = self.resolve(schema)
        props = dict(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            props.update(self.properties(sub))
        return props

    def prefix(self):
        servers = self.doc.get("servers") or []
        if servers:
            url = servers[0].get("url", "")
            m = re.match(r"^(?:https?://[^/]+)?(/.*)?$", url)
            p = (m.group(1) or "") if m else ""
            return p.rstrip("/")
        return ""

    def doc_endpoints(self):
        out = {}
        pre = self.prefix()
        for path, item in self.doc["paths"].items():
            full = path if path.startswith(API) else pre + path
            norm = re.sub(r"\{[^}]+\}", "{}", full)
            for m in item:
                if m in METHODS:
                    out[(m.upper(), norm)] = (path, m)
        return out

    def get_schema(self, kind):
        eps = self.doc_endpoints()
        key = ("GET", "/api/v1/%s/{}" % kind)
        self.assertIn(key, eps, "no GET %s/{id} in the document" % kind)
        path, m = eps[key]
        op = self.doc["paths"][path][m]
        resp = self.resolve(op["responses"].get("200"))
        self.assertIsNotNone(resp, "GET %s has no 200 response" % path)
        content = resp.get("content", {})
        self.assertIn("application/json", content, path)
        return content["application/json"]["schema"]

    # -- tests
    def test_is_an_openapi_3_document(self):
        d = self.doc
        self.assertRegex(str(d.get("openapi")), r"^3\.\d+\.\d+$")
        self.assertIsInstance(d.get("info", {}).get("title"), str)
        self.assertIsInstance(d.get("info", {}).get("version"), str)
        self.assertIsInstance(d.get("paths"), dict)
        self.assertTrue(d["paths"])
        self.assertIsInstance(d.get("components", {}).get("schemas"), dict)
        op_ids = []
        for path, item in d["paths"].items():
            self.assertTrue(path.startswith("/"), path)
            shared = item.get("parameters", [])
            for m, op in item.items():
                if m not in METHODS:
                    self.assertIn(m, ("parameters", "summary", "description", "servers", "$ref"), path)
                    continue
                self.assertIsInstance(op.get("responses"), dict, "%s %s" % (m, path))
                self.assertTrue(op["responses"], "%s %s has no responses" % (m, path))
                for code, resp in op["responses"].items():
                    self.assertTrue(code == "default" or re.match(r"^[1-5](\d\d|XX)$", code), code)
                    self.assertIn("description", self.resolve(resp), "%s %s %s" % (m, path, code))
                if "operationId" in op:
                    op_ids.append(op["operationId"])
                params = [self.resolve(p) for p in shared + op.get("parameters", [])]
                for p in params:
                    self.assertIn(p.get("in"), ("query", "header", "path", "cookie"), p)
                    self.assertIsInstance(p.get("name"), str, p)
                declared = {p["name"] for p in params if p["in"] == "path"}
                for name in re.findall(r"\{([^}]+)\}", path):
                    self.assertIn(name, declared, "path parameter {%s} of %s %s not declared" % (name, m, path))
                for p in params:
                    if p["in"] == "path":
                        self.assertIs(p.get("required"), True, p)
        self.assertEqual(len(op_ids), len(set(op_ids)), "operationIds must be unique")

    def test_every_ref_resolves(self):
        def walk(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    self.resolve(node)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(self.doc)

    def test_paths_cover_every_endpoint_used(self):
        eps = self.doc_endpoints()
        used = set(USED)
        used |= {(m, p) for m, p in harness.USED_ENDPOINTS if p.startswith(API)}
        def covered(mp):
            # a template segment "{}" stands for any one segment (ids and keys alike)
            m, p = mp
            segs = p.split("/")
            for em, ep in eps:
                esegs = ep.split("/")
                if em == m and len(esegs) == len(segs) and all(
                        e == "{}" or e == u for e, u in zip(esegs, segs)):
                    return True
            return False
        missing = sorted("%s %s" % mp for mp in used if not covered(mp))
        self.assertEqual(missing, [], "endpoints missing from openapi.json")

    def shape_errors(self, actual, schema, where):
        """Keys of `actual` (recursively) that `schema` does not describe."""
        schema = self.resolve(schema) if schema is not None else {}
        alts = schema.get("anyOf", []) + schema.get("oneOf", [])
        if alts and "properties" not in schema and "items" not in schema:
            errs = None
            for alt in alts:
                e = self.shape_errors(actual, alt, where)
                if errs is None or len(e) < len(errs):
                    errs = e
            return errs or []
        errs = []
        if isinstance(actual, dict):
            props = self.properties(schema)
            if not props:
                if schema.get("additionalProperties") not in (None, True) or schema.get("type") not in ("object", None):
                    if not isinstance(schema.get("additionalProperties"), dict):
                        errs.append("%s: object not described" % where)
                return errs
            for k, v in actual.items():
                if k not in props:
                    errs.append("%s.%s" % (where, k))
                else:
                    errs += self.shape_errors(v, props[k], "%s.%s" % (where, k))
        elif isinstance(actual, list) and actual:
            items = schema.get("items")
            if items is None:
                errs.append("%s: array without items schema" % where)
            else:
                for i, v in enumerate(actual[:3]):
                    errs += self.shape_errors(v, items, "%s[%d]" % (where, i))
        return errs

    def response_schema(self, method, template, status):
        eps = self.doc_endpoints()
        key = (method, template)
        self.assertIn(key, eps, "%s %s not in the document" % key)
        path, m = eps[key]
        responses = self.doc["paths"][path][m]["responses"]
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) or responses.get("default")
        self.assertIsNotNone(resp, "%s %s documents no %d response" % (method, path, status))
        content = self.resolve(resp).get("content", {})
        self.assertIn("application/json", content, "%s %s %d" % (method, path, status))
        return content["application/json"]["schema"]

    def test_schemas_list_the_fields_get_returns(self):
        rep = self.org.rep1
        acc = self.account(rep, importance="A", installed_base=[{"brand": "B", "quantity": 1, "years": 2}])
        recs = {
            "accounts": acc,
            "contacts": self.contact(rep, acc["id"]),
            "opportunities": self.opportunity(rep, acc["id"], competitors=["X"],
                                              purchase_criteria=[{"criterion": "price", "weight": 3, "ours": 4,
                                                                  "theirs": 2}]),
            "activities": self.activity(rep, acc["id"]),
            "users": rep.user,
            "teams": {"id": self.org.teams["branch"]},
        }
        for kind, rec in recs.items():
            got = self.admin.get("%s/%d" % (kind, rec["id"]))
            self.assertStatus(got, 200)
            raw = self.response_schema("GET", "/api/v1/%s/{}" % kind, 200)
            self.assertTrue(raw.get("$ref", "").startswith("#/components/schemas/"),
                            "GET %s/{id} should answer a component schema: %r" % (kind, raw))
            props = self.properties(raw)
            missing = sorted(set(got.json) - set(props))
            self.assertEqual(missing, [], "%s: fields returned by GET but not in the schema" % kind)
            self.assertEqual(self.shape_errors(got.json, raw, kind), [])
            if "password" in props:
                self.assertIs(self.resolve(props["password"]).get("writeOnly"), True, "users.password must be writeOnly")
            # the list answers {items: [same schema], next}
            lst = self.admin.get(kind, query={"limit": 2})
            self.assertStatus(lst, 200)
            self.assertEqual(self.shape_errors(lst.json, self.response_schema("GET", "/api/v1/" + kind, 200),
                                               kind + "-list"), [])

    def test_other_responses_match_their_schemas(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.assertStatus(rep.patch("accounts/%d" % acc["id"], {"industry": "printing"}), 200)
        c = self.server.client()
        login = c.login(self.org.usernames["rep1"], harness.PW)
        cases = [
            ("GET", "/api/v1/health", 200, self.server.client().get("health")),
            ("POST", "/api/v1/auth/login", 200, login),
            ("GET", "/api/v1/me", 200, rep.get("me")),
            ("GET", "/api/v1/audit", 200, self.admin.get("audit", query={"object": "account", "id": acc["id"]})),
            ("GET", "/api/v1/accounts/{}", 404, rep.get("accounts/987654")),
            ("POST", "/api/v1/accounts", 400, rep.post("accounts", {"name": 5})),
            ("POST", "/api/v1/auth/logout", 200, c.post("auth/logout")),
        ]
        for method, tpl, status, r in cases:
            self.assertStatus(r, status, tpl)
            self.assertEqual(self.shape_errors(r.json, self.response_schema(method, tpl, status), tpl), [])
        audit = cases[3][3].json["items"]
        self.assertTrue(audit)

    def test_schemas_declare_the_enums(self):
        for kind, fields in ENUMS.items():
            props = self.properties(self.get_schema(kind))
            for field, values in fields.items():
                self.assertIn(field, props, "%s.%s" % (kind, field))
                p = self.resolve(props[field])
                enum = p.get("enum")
                if enum is None:  # nullable written as anyOf/oneOf
                    for alt in p.get("anyOf", []) + p.get("oneOf", []):
                        enum = self.resolve(alt).get("enum") or enum
                self.assertIsNotNone(enum, "%s.%s has no enum" % (kind, field))
                self.assertEqual(set(v for v in enum if v is not None), values, "%s.%s" % (kind, field))

    def test_document_is_served_as_json(self):
        r = self.org.rep1.get("openapi.json")
        self.assertStatus(r, 200)
        self.assertIn("application/json", r.header("Content-Type") or "")
        self.assertEqual(r.json, self.doc)


# --------------------------------------------------------------------------
# CLI


def out(r):
    return (r.stdout or "") + (r.stderr or "")


class CliTest(unittest.TestCase):

    def setUp(self):
        if not os.path.exists(BIN):
            self.fail("no binary at %s" % BIN)
        self._tmp = tempfile.TemporaryDirectory(prefix="dealmap-cli-")
        self.tmp = self._tmp.name
        self.db = new_db(self.tmp, "cli.db")

    def tearDown(self):
        drop_db(self.db)
        self._tmp.cleanup()

    def set_schema_version(self, v):
        if STORE == "pg":
            psql(self.db, "UPDATE schema_version SET version = %d" % v)
            return
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA user_version = %d" % v)
        con.commit()
        con.close()

    def schema_version(self):
        if STORE == "pg":
            return int(db_rows(self.db, "SELECT version FROM schema_version")[0][0])
        return db_rows(self.db, "PRAGMA user_version")[0][0]

    def stored_texts(self):
        """Every text value stored in the database."""
        if STORE == "pg":
            r = subprocess.run(["pg_dump", "--data-only", "--dbname", self.db], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return [r.stdout]
        con = sqlite3.connect(self.db)
        try:
            self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0].lower(), "wal")
            texts = []
            # every stored table; a virtual table (the name index) keeps its rows in shadow
            # tables, scanned here, and cannot be read without dealmap's tokenizer
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
            for t in tables:
                for row in con.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
                    for v in row:
                        if isinstance(v, bytes):
                            v = v.decode("latin-1")
                        if isinstance(v, str):
                            texts.append(v)
            return texts
        finally:
            con.close()

    def init(self, pw=ADMIN_PW):
        r = run_cli(["init", "--db", self.db, "--admin-password", pw])
        self.assertEqual(r.returncode, 0, out(r))
        return r

    # -- help and usage
    def test_help(self):
        r = run_cli(["--help"])
        self.assertEqual(r.returncode, 0, out(r))
        for cmd in ("serve", "init", "user"):
            self.assertIn(cmd, r.stdout, "top-level --help on stdout lists %s" % cmd)
        r = run_cli(["serve", "--help"])
        self.assertEqual(r.returncode, 0, out(r))
        self.assertIn("--db", r.stdout)
        self.assertIn("--listen", r.stdout)
        for args in (["init", "--help"], ["user", "--help"], ["user", "add", "--help"]):
            r = run_cli(args)
            self.assertEqual(r.returncode, 0, "%s: %s" % (args, out(r)))
            self.assertIn("--db", out(r), args)

    def test_wrong_command_or_flag_prints_usage_and_fails(self):
        for args in (["frobnicate"], ["serve", "--bogus"], ["init", "--nope"], ["user", "frob"],
                     ["user", "add", "--db", self.db, "--colour", "red"]):
            r = run_cli(args, timeout=10)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn("usage", out(r).lower(), "%s should print usage: %r" % (args, out(r)))

    def test_serve_missing_flag_value_fails(self):
        r = run_cli(["serve", "--db"], timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.init()
        r = run_cli(["serve", "--db", self.db, "--listen", "not-an-address"], timeout=10)
        self.assertNotEqual(r.returncode, 0, out(r))

    # -- init
    def test_init_generates_and_prints_a_password_once(self):
        r = run_cli(["init", "--db", self.db])
        self.assertEqual(r.returncode, 0, out(r))
        text = out(r)
        lines = [l for l in text.splitlines() if "password" in l.lower()] or text.splitlines()
        cands = []
        for l in lines:
            for tok in l.split():
                for t in (tok, tok.strip("'\"`.,;:()[]<>")):
                    if len(t) >= 10 and t not in cands and "password" not in t.lower():
                        cands.append(t)
        self.assertTrue(cands, "no generated password in: %r" % text)
        srv = Server(tmpdir=self.tmp, db=self.db)
        try:
            srv.start(init=False)
            found = None
            for t in sorted(cands, key=len, reverse=True)[:4]:
                r2 = srv.client().login("admin", t)
                if r2.status == 200:
                    found = t
                    break
            self.assertIsNotNone(found, "none of %r logs in as admin" % cands)
            self.assertEqual(text.count(found), 1, "the password is printed once")
            self.assertGreaterEqual(len(found), 12)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_init_is_idempotent_and_keeps_data(self):
        self.init()
        r = run_cli(["user", "add", "--db", self.db, "--username", "keeper", "--role", "rep", "--password", PW])
        self.assertEqual(r.returncode, 0, out(r))
        r = run_cli(["init", "--db", self.db, "--admin-password", ADMIN_PW])
        self.assertEqual(r.returncode, 0, out(r))
        r = run_cli(["user", "list", "--db", self.db])
        self.assertIn("keeper", r.stdout)

    # -- user
    def test_user_add_list_passwd_then_login(self):
        self.init()
        r = run_cli(["user", "add", "--db", self.db, "--username", "cliuser", "--role", "rep", "--password", PW])
        self.assertEqual(r.returncode, 0, out(r))
        r = run_cli(["user", "list", "--db", self.db])
        self.assertEqual(r.returncode, 0, out(r))
        self.assertRegex(r.stdout, r"(?m)\badmin\b")
        self.assertRegex(r.stdout, r"(?m)\bcliuser\b")
        self.assertRegex(r.stdout, r"(?m)\brep\b")
        self.assertNotIn("$argon2", out(r))
        self.assertNotIn(PW, out(r))
        r = run_cli(["user", "passwd", "--db", self.db, "--username", "cliuser", "--password", PW2])
        self.assertEqual(r.returncode, 0, out(r))
        srv = Server(tmpdir=self.tmp, db=self.db)
        try:
            srv.start(init=False)
            c = srv.client()
            r = c.login("cliuser", PW2)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["user"]["role"], "rep")
            self.assertEqual(c.get("me").json["username"], "cliuser")
            self.assertEqual(srv.client().login("cliuser", PW).status, 401)
            # a change made at the shell while serving is seen at the next login
            r = run_cli(["user", "passwd", "--db", self.db, "--username", "cliuser", "--password", PW])
            self.assertEqual(r.returncode, 0, out(r))
            self.assertEqual(srv.client().login("cliuser", PW).status, 200)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_user_errors(self):
        self.init()
        ok = ["user", "add", "--db", self.db, "--username", "dup", "--role", "rep", "--password", PW]
        self.assertEqual(run_cli(ok).returncode, 0)
        r = run_cli(ok)
        self.assertNotEqual(r.returncode, 0, "duplicate username accepted: " + out(r))
        r = run_cli(["user", "add", "--db", self.db, "--username", "weak", "--role", "rep", "--password", "password"])
        self.assertNotEqual(r.returncode, 0, "weak password accepted: " + out(r))
        r = run_cli(["user", "add", "--db", self.db, "--username", "bad", "--role", "emperor", "--password", PW])
        self.assertNotEqual(r.returncode, 0, "unknown role accepted: " + out(r))
        r = run_cli(["user", "passwd", "--db", self.db, "--username", "ghost", "--password", PW])
        self.assertNotEqual(r.returncode, 0, "passwd of a missing user: " + out(r))
        r = run_cli(["user", "list", "--db", self.db])
        self.assertNotRegex(r.stdout, r"(?m)\b(weak|bad|ghost)\b")

    # -- store
    def test_newer_database_is_refused(self):
        self.init()
        self.set_schema_version(9999)
        port = harness.free_port()
        try:
            r = subprocess.run([BIN, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("serve started on a database from a newer version")
        self.assertNotEqual(r.returncode, 0)
        text = out(r).lower()
        self.assertIn("version", text, "the refusal should say why: %r" % out(r))
        r = run_cli(["init", "--db", self.db, "--admin-password", ADMIN_PW])
        self.assertNotEqual(r.returncode, 0, "init must not touch a newer database")
        self.assertEqual(self.schema_version(), 9999)

    def test_port_in_use_fails(self):
        self.init()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            r = subprocess.run([BIN, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=15)
            self.assertNotEqual(r.returncode, 0)
        except subprocess.TimeoutExpired:
            self.fail("serve kept running although the port is taken")
        finally:
            s.close()

    def test_sigint_exits_cleanly(self):
        srv = Server(tmpdir=self.tmp, db=self.db)
        srv.start()
        self.assertEqual(srv.stop(signal.SIGINT), 0)

    def test_sigterm_finishes_in_flight_requests(self):
        srv = Server(tmpdir=self.tmp, db=self.db)
        srv.start()
        body = ('{"username": "admin", "password": "%s"}' % ADMIN_PW).encode()
        req = (b"POST " + API.encode() + b"/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        socks = [socket.create_connection((srv.host, srv.port), timeout=15) for _ in range(4)]
        try:
            for s in socks:
                s.sendall(req)
            time.sleep(0.01)  # the logins are hashing (argon2id) when the signal lands
            srv.proc.send_signal(signal.SIGTERM)
            statuses = [harness._read_status(s)[0] for s in socks]
        finally:
            for s in socks:
                s.close()
        self.assertEqual(statuses, [200] * 4, "in-flight requests must be answered")
        self.assertEqual(srv.stop(), 0)

    def test_database_is_wal_and_holds_no_secrets(self):
        srv = Server(tmpdir=self.tmp, db=self.db)
        try:
            srv.start()
            admin = srv.admin()
            r = admin.post("users", {"username": "secretive", "role": "rep", "password": PW2})
            self.assertEqual(r.status, 201, r)
            u = srv.login("secretive", PW2)
            token = u.token
            cookie = srv.login("secretive", PW2, cookies=True).jar["dm_session"]
        finally:
            self.assertEqual(srv.stop(), 0)
        blob = "\n".join(self.stored_texts())
        for secret, what in ((PW2, "a password"), (ADMIN_PW, "the admin password"), (token, "a bearer token"),
                             (cookie, "a session cookie")):
            self.assertNotIn(secret, blob, "%s is stored in clear" % what)
        hashes = re.findall(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", blob)
        self.assertGreaterEqual(len(hashes), 2, "passwords are not stored as argon2id PHC strings")
        for m, t, p in hashes:
            self.assertGreaterEqual(int(m), 19456, "argon2id memory below 19 MiB")
            self.assertGreaterEqual(int(t), 2, "argon2id passes below 2")


if __name__ == "__main__":
    unittest.main()
