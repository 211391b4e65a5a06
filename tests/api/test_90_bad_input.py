"""90: bad input and limits: malformed JSON, invalid UTF-8, wrong types,
big bodies (413), big headers (431), slow and idle clients."""

import json
import select
import socket
import threading
import time
import unittest

from harness import API, ApiTestCase, raw_request, _read_status, uniq

MiB = 1024 * 1024
IDLE_LIMIT = 40.0  # seconds within which the server must drop an idle/slow client (its default is 30)


def send_large(server, head, total, token, chunk=256 * 1024, timeout=30):
    """Send `head` + `total` body bytes, stopping as soon as the server answers.
    Returns (status, raw response, bytes of body sent)."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        s.sendall(head)
        sent = 0
        block = b"a" * chunk
        deadline = time.time() + timeout
        while sent < total and time.time() < deadline:
            r, w, _ = select.select([s], [s], [], 1.0)
            if r:
                break  # the server has answered (or closed)
            if w:
                try:
                    sent += s.send(block[:min(chunk, total - sent)])
                except (BrokenPipeError, ConnectionResetError):
                    break
        s.settimeout(timeout)
        status, raw = _read_status(s)
        return status, raw, sent
    finally:
        s.close()


class BadInputTest(ApiTestCase):
    ORG_USERS = ("rep1",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rep = cls.org.rep1
        cls.token = cls.rep.token
        # Idle and slow clients, opened now and checked by the last test, so
        # their timeout runs while the other tests run.
        cls.t_open = time.time()
        cls.idle = []
        srv = cls.server
        for kind in ("idle", "partial-headers", "partial-body", "keepalive-idle"):
            s = socket.create_connection((srv.host, srv.port), timeout=IDLE_LIMIT + 20)
            if kind == "partial-headers":
                s.sendall(b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\n")
            elif kind == "partial-body":
                s.sendall(b"POST " + API.encode() + b"/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Authorization: Bearer " + cls.token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"na")
            elif kind == "keepalive-idle":
                s.sendall(b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\n\r\n")
                _read_status(s, read_all=False)
            cls.idle.append((kind, s))
        # a slowloris: one header byte every 0.5 s, forever
        cls.drip_closed_after = None
        cls.drip_stop = threading.Event()
        cls.drip = threading.Thread(target=cls._drip, daemon=True)
        cls.drip.start()

    @classmethod
    def _drip(cls):
        t0 = time.time()
        try:
            s = socket.create_connection((cls.server.host, cls.server.port), timeout=5)
            s.sendall(b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\n")
            i = 0
            while not cls.drip_stop.is_set() and time.time() - t0 < IDLE_LIMIT + 10:
                s.sendall(b"X-Drip-%d: y\r\n" % i)
                i += 1
                time.sleep(0.5)
                r, _, _ = select.select([s], [], [], 0)
                if r and not s.recv(4096):
                    break
            else:
                return
        except OSError:
            pass
        cls.drip_closed_after = time.time() - t0

    @classmethod
    def tearDownClass(cls):
        cls.drip_stop.set()
        for _, s in cls.idle:
            s.close()
        super().tearDownClass()

    def tearDown(self):
        self.assertAlive()

    def post_raw(self, path, raw, **kw):
        return self.rep.post(path, raw=raw, **kw)

    # -- JSON
    def test_malformed_json(self):
        for raw in (b'{"name": ', b'{name: "x"}', b"{'name': 'x'}", b'{"name": "x",}', b'{"name": "x"} trailing',
                    b'{"name": "x"}{"name": "y"}', b'', b' ', b'{"name": NaN}', b'{"name": "x\\q"}',
                    b'{"name": "\x01control"}', b'{"name": "x"}\x00'):
            r = self.post_raw("accounts", raw)
            self.assertError(r, 400, "invalid_json", msg=repr(raw))

    def test_body_must_be_an_object(self):
        for raw in (b"null", b"[]", b'[{"name": "x"}]', b'"Acme"', b"42", b"true"):
            self.assertError(self.post_raw("accounts", raw), 400, "invalid_json", msg=repr(raw))

    def test_duplicate_keys(self):
        r = self.post_raw("accounts", b'{"name": "Dup Key A", "name": "Dup Key B"}')
        self.assertError(r, 400, "invalid_json")
        self.assertEqual(self.rep.list_all("accounts", {"name": "Dup Key"}), [])

    def test_invalid_utf8(self):
        for raw in (b'{"name": "\xff\xfe"}', b'{"name": "\xc0\xaf overlong"}', b'{"name": "\xed\xa0\x80 surrogate"}',
                    b'{"name": "\xe4\xb8 truncated"}', b'{"name": "\xf8\x88\x80\x80\x80"}', b'{"na\xffme": "x"}',
                    b'{"name": "ok", "notes": "\x80"}', b'{"name": "\xf4\x90\x80\x80 above max"}'):
            r = self.post_raw("accounts", raw)
            self.assertError(r, 400, "invalid_json", msg=repr(raw))
        self.assertEqual(self.rep.list_all("accounts", {"name": "overlong"}), [])

    def test_lone_surrogate_escape(self):
        r = self.post_raw("accounts", b'{"name": "bad \\ud800 escape"}')
        self.assertError(r, 400, ("invalid_json", "invalid_field"))

    def test_nul_escape_is_refused_or_kept_exactly(self):
        name = uniq("Nul")
        r = self.rep.post("accounts", {"name": name + "\u0000tail"})
        if r.status == 201:
            self.assertEqual(r.json["name"], name + "\u0000tail")
            self.assertEqual(self.rep.get("accounts/%d" % r.json["id"]).json["name"], name + "\u0000tail")
        else:
            self.assertError(r, 400, ("invalid_json", "invalid_field"))
            self.assertEqual(self.rep.list_all("accounts", {"name": name}), [])

    def test_valid_escapes_are_decoded(self):
        name = uniq("Esc")
        raw = ('{"name": "%s \\u4e2d\\u6587 \\ud83d\\ude00 \\"q\\" \\/"}' % name).encode()
        r = self.post_raw("accounts", raw)
        self.assertStatus(r, 201)
        self.assertEqual(r.json["name"], name + ' 中文 😀 "q" /')

    def test_wrong_types_name_the_field(self):
        cases = [("accounts", {"name": {"nested": 1}}, "name"),
                 ("accounts", {"name": uniq("T"), "importance": ["A"]}, "importance"),
                 ("accounts", {"name": uniq("T"), "installed_base": {"brand": "x"}}, "installed_base"),
                 ("contacts", {"account_id": "1", "name": "x"}, "account_id"),
                 ("opportunities", {"account_id": 1, "name": "x", "stage": "interest", "amount": "lots"}, "amount"),
                 ("activities", {"account_id": 1, "channel": "telepathy", "occurred_at": "2026-01-01T00:00:00Z"},
                  "channel")]
        for path, body, field in cases:
            r = self.rep.post(path, body)
            self.assertError(r, 400, "invalid_field", field=field, msg="%s %r" % (path, body))

    def test_numbers_out_of_range(self):
        r = self.post_raw("accounts", b'{"name": "Big", "owner_id": 99999999999999999999999}')
        self.assertError(r, 400, ("invalid_json", "invalid_field"))
        r = self.post_raw("accounts", b'{"name": "Big", "owner_id": 1e999999}')
        self.assertError(r, 400, ("invalid_json", "invalid_field"))

    def test_deep_nesting(self):
        raw = b'{"name": "Deep", "notes": ' + b"[" * 100000 + b"]" * 100000 + b"}"
        r = self.post_raw("accounts", raw)
        self.assertError(r, 400, ("invalid_json", "invalid_field"))

    def test_too_long_string(self):
        r = self.rep.post("accounts", {"name": "L" * MiB})
        self.assertError(r, 400, "invalid_field", field="name")

    # -- bodies
    def test_body_over_10_mib_is_413(self):
        total = 10 * MiB + 1
        head = (("POST %s/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n") % (API, self.token, total)).encode()
        status, raw, sent = send_large(self.server, head, total, self.token)
        self.assertEqual(status, 413, raw[:300])
        body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
        try:
            err = json.loads(body.decode())["error"]
            self.assertEqual(err["code"], "payload_too_large")
        except (ValueError, KeyError, UnicodeDecodeError):
            # the body may be cut if the server closed while we were still sending
            self.assertIn(b"payload_too_large", raw, raw[:300])

    def test_chunked_body_over_10_mib_is_refused(self):
        head = (("POST %s/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n") % (API, self.token)).encode()
        s = socket.create_connection((self.server.host, self.server.port), timeout=30)
        try:
            s.sendall(head)
            chunk = b"%x\r\n%s\r\n" % (MiB, b" " * MiB)
            for _ in range(12):
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    break
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                try:
                    s.sendall(b"0\r\n\r\n")
                except OSError:
                    pass
            status, raw = _read_status(s)
        finally:
            s.close()
        self.assertIn(status, (400, 411, 413, 501), raw[:300])

    def test_body_of_exactly_10_mib_is_not_413(self):
        name = uniq("Ten")
        prefix = ('{"name": "%s", "notes": "' % name).encode()
        suffix = b'"}'
        raw = prefix + b"n" * (10 * MiB - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(raw), 10 * MiB)
        r = self.post_raw("accounts", raw, timeout=60)
        self.assertIn(r.status, (201, 400), r)
        if r.status == 400:
            self.assertEqual(r.error["code"], "invalid_field")
            self.assertEqual(r.error["field"], "notes")

    def test_bad_content_length(self):
        for cl in (b"abc", b"-5", b"1x"):
            status, raw = raw_request(self.server, b"POST " + API.encode() + b"/auth/login HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: " + cl + b"\r\n\r\n{}")
            self.assertEqual(status, 400, raw[:300])

    def test_garbage_request_line(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00"):
            status, raw = raw_request(self.server, line, timeout=5)
            self.assertTrue(status is None or 400 <= status < 600 and status != 500, (line, raw[:200]))

    # -- headers
    def test_headers_over_32_kib_are_431(self):
        big = b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (40 * 1024) + b"\r\n\r\n"
        status, raw = raw_request(self.server, big)
        self.assertEqual(status, 431, raw[:300])
        many = b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H-%04d: %s\r\n" % (i, b"b" * 40) for i in range(1000)) + b"\r\n"
        status, raw = raw_request(self.server, many)
        self.assertEqual(status, 431, raw[:300])
        cookie = b"GET " + API.encode() + b"/me HTTP/1.1\r\nHost: x\r\nCookie: dm_session=" + b"c" * (64 * 1024) + b"\r\n\r\n"
        status, raw = raw_request(self.server, cookie)
        self.assertEqual(status, 431, raw[:300])

    def test_headers_under_the_bound_are_fine(self):
        # 31 KiB of headers in all: under the 32 KiB bound
        r = self.rep.get("me", headers={"X-Padding": "p" * (31 * 1024)})
        self.assertStatus(r, 200)

    def test_long_url(self):
        req = b"GET " + API.encode() + b"/accounts?name=" + b"u" * (64 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        status, raw = raw_request(self.server, req)
        self.assertIn(status, (414, 431), raw[:300])

    # -- paths and params
    def test_unknown_paths_and_ids(self):
        self.assertError(self.rep.get("nothing-here", record=False), 404, "not_found")
        for p in ("accounts/abc", "accounts/99999999999999999999999", "accounts/-1", "accounts/1.5", "accounts/0"):
            r = self.rep.get(p, record=False)
            self.assertError(r, (400, 404), msg=p)
        r = self.rep.request("PUT", "accounts", {"name": "x"}, record=False)
        self.assertError(r, (404, 405))

    def test_invalid_utf8_in_query(self):
        r = self.rep.get(API + "/accounts?name=%FF%FE")
        self.assertError(r, 400, "invalid_param", field="name")
        r = self.rep.get(API + "/accounts?limit=%00")
        self.assertError(r, 400, "invalid_param", field="limit")

    # -- slow and idle clients
    def test_many_idle_and_slow_clients_do_not_block_others(self):
        socks = []
        try:
            for i in range(100):
                s = socket.create_connection((self.server.host, self.server.port), timeout=10)
                if i % 5 == 1:
                    s.sendall(b"GET " + API.encode() + b"/health HTTP/1.1\r\nHost: x\r\n")
                elif i % 5 == 2:
                    s.sendall(b"POST " + API.encode() + b"/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
                socks.append(s)
            t0 = time.time()
            c = self.server.client(token=self.token)
            self.assertStatus(c.get("health"), 200)
            self.assertStatus(c.get("accounts"), 200)
            self.assertStatus(c.post("accounts", {"name": uniq("Busy")}), 201)
            self.assertLess(time.time() - t0, 3.0, "requests waited behind idle connections")
            # concurrently from several fresh clients as well
            results = []

            def one():
                cc = self.server.client(token=self.token)
                results.append(cc.get("me").status)
            ts = [threading.Thread(target=one) for _ in range(16)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
            self.assertEqual(results, [200] * 16)
            self.assertLess(time.time() - t0, 6.0)
        finally:
            for s in socks:
                s.close()

    def test_zz_idle_and_slow_clients_are_timed_out(self):
        """Runs last: the connections were opened in setUpClass."""
        deadline = self.t_open + IDLE_LIMIT
        open_kinds = []
        for kind, s in self.idle:
            closed = False
            while not closed:
                s.settimeout(max(0.2, deadline - time.time()))
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    closed = True
                    break
                # a 408 answer before closing is fine: keep reading until EOF
                closed = not data
            if not closed:
                open_kinds.append(kind)
        self.drip.join(max(0.2, deadline + 2 - time.time()))
        if self.drip.is_alive() or self.drip_closed_after is None:
            open_kinds.append("slowloris (a header line every 0.5 s)")
        self.assertEqual(open_kinds, [], "still connected %.0f s after opening" % (time.time() - self.t_open))

if __name__ == "__main__":
    unittest.main()
