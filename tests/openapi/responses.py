#!/usr/bin/python3
"""responses.py — every API response the integration suites received follows static/openapi.json.

usage: tests/openapi/responses.py [--min-records N] [--document FILE] LOG
       tests/openapi/responses.py --self-test     (the checker on made-up responses; no stack)

LOG holds one JSON line per response, written by tests/integration/itest.c when TG_RESPONSE_LOG is
set: {method, path (without query), status, content_type, headers, body (parsed JSON or null)}, and
for a text/event-stream also text (the raw stream).
Before reading it, this script fetches /api/openapi.json from the stack (TG_URL) and checks it is the
document of this checkout, served as application/json; that response is validated like the others.

Each response to an /api/ path is matched to its path template and method:
  - documented operation: the status must be one of its responses; the body must validate against
    that response's schema for the response's content type (no body where none is documented; a
    text/event-stream's events, each as {event, data} with data parsed as JSON, against the media
    type's x-item-schema: OAS 3.2's itemSchema); its
    required headers must be there (and match their schema's const/pattern/integer type);
    HEAD is checked against GET, without a body;
  - a documented path with another method: 405 method_not_allowed with Allow (OPTIONS: 204, the
    CORS preflight);
  - an unknown /api/ path: 404 not_found;
  - nginx's own answers, possible on any request before it reaches tollgate (400, 413, 414, 429, 431, 501, 503, …), are
    accepted on the last two kinds as problem documents; on an operation they must be documented.
Every error is a problem document (application/problem+json, components/schemas/Problem).
Responses to other paths (static pages) are not the API's and are skipped.

Prints every mismatch and a summary with the operations no response exercised; exits 1 on any
mismatch, or when the log has fewer than --min-records responses (a recorder that stopped recording).
"""
import argparse
import collections
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oas  # noqa: E402

# nginx answers these itself (tollgate-api.conf turns each into a problem document) for requests it
# refuses before a location runs: malformed paths and request lines, huge headers or URIs, a dead upstream
NGINX_STATUSES = {400, 408, 411, 413, 414, 429, 431, 500, 501, 503, 505}
MAX_REPORTED = 60


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.validator = oas.SchemaValidator(doc)
        self.templates = list(doc["paths"])
        self.failures = []
        self.seen = collections.defaultdict(collections.Counter)  # (template, method) -> statuses
        self.checked = self.skipped = 0
        self.kinds = collections.Counter()  # responses outside the operations: unknown paths, …

    def fail(self, rec, msg):
        q = rec.get("body")
        body = json.dumps(q)[:300] if q is not None else "(no JSON body)"
        self.failures.append((f"{rec['method']} {rec['path']} -> {rec['status']}: {msg}", body))

    # ----------------------------------------------------------------------------- pieces

    def media(self, rec):
        ct = rec.get("content_type") or ""
        return ct.split(";")[0].strip().lower()

    def header(self, rec, name):
        return (rec.get("headers") or {}).get(name.lower())

    def check_problem(self, rec, codes=None):
        """The response is a problem document with the record's status (and one of codes)."""
        if self.media(rec) != "application/problem+json":
            self.fail(rec, f"expected an application/problem+json document, got {rec.get('content_type')!r}")
            return
        if rec["method"] == "HEAD":
            return  # no body to check
        errs = self.validator.errors("#/components/schemas/Problem", rec.get("body"))
        for e in errs[:3]:
            self.fail(rec, f"not a problem document: {oas.describe(e)}")
        body = rec.get("body") or {}
        if isinstance(body, dict):
            if body.get("status") != rec["status"]:
                self.fail(rec, f"problem status {body.get('status')} is not the HTTP status")
            if codes and body.get("code") not in codes:
                self.fail(rec, f"problem code {body.get('code')!r}, expected one of {sorted(codes)}")

    def check_headers(self, rec, response, where):
        for name, h in (response.get("headers") or {}).items():
            h, hp = oas.resolve(self.doc, h, where)
            value = self.header(rec, name)
            if value is None:
                if h.get("required"):
                    self.fail(rec, f"header {name} is missing")
                continue
            schema, _ = oas.resolve(self.doc, h.get("schema") or {}, hp)
            if "const" in schema and value != schema["const"]:
                self.fail(rec, f"header {name}: {value!r}, documented {schema['const']!r}")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                self.fail(rec, f"header {name}: {value!r} does not match {schema['pattern']}")
            if schema.get("type") == "integer":
                try:
                    n = int(value)
                    if n < schema.get("minimum", n):
                        self.fail(rec, f"header {name}: {n} below {schema['minimum']}")
                except ValueError:
                    self.fail(rec, f"header {name}: {value!r} is not an integer")

    def check_operation(self, rec, template, method, op, op_pointer):
        status = str(rec["status"])
        self.seen[(template, method)][rec["status"]] += 1
        responses = op.get("responses", {})
        key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else \
            "default" if "default" in responses else None
        if key is None:
            self.fail(rec, f"status {status} is not documented for {method.upper()} {template} "
                           f"(documented: {', '.join(sorted(responses))})")
            if rec["status"] >= 400:
                self.check_problem(rec)
            return
        rp = oas.pointer_join(op_pointer, "responses", key)
        response, rp = oas.resolve(self.doc, responses[key], rp)
        self.check_headers(rec, response, rp)
        content = response.get("content") or {}
        body = rec.get("body")
        if not content:
            if body is not None:
                self.fail(rec, "a body where none is documented")
            return
        mt = self.media(rec)
        if mt not in content:
            self.fail(rec, f"content type {rec.get('content_type')!r} is not documented (documented: "
                           f"{', '.join(sorted(content))})")
            return
        if rec["method"] == "HEAD":
            return
        if mt == "text/event-stream":
            self.check_events(rec, content[mt], oas.pointer_join(rp, "content", mt), f"{method.upper()} {template} {key}")
            return
        if "schema" not in content[mt]:
            return
        if body is None:
            self.fail(rec, f"the body is not JSON (documented {mt})")
            return
        sp = oas.pointer_join(rp, "content", mt, "schema")
        for e in self.validator.errors(sp, body)[:5]:
            self.fail(rec, f"body does not match {mt} of {method.upper()} {template} {key}: {oas.describe(e)}")

    def check_events(self, rec, media, mp, where):
        """A text/event-stream: each event against the media type's item schema (when the recorder
        kept the raw stream)."""
        text = rec.get("text")
        if text is None or oas.ITEM_SCHEMA not in media:
            return
        try:
            events = parse_sse(text)
        except ValueError as e:
            self.fail(rec, f"text/event-stream of {where}: {e}")
            return
        if not events:
            self.fail(rec, f"text/event-stream of {where}: no event")
        sp = oas.pointer_join(mp, oas.ITEM_SCHEMA)
        for n, ev in enumerate(events):
            for e in self.validator.errors(sp, ev)[:3]:
                self.fail(rec, f"event {n} ({ev['event']}) does not match {oas.ITEM_SCHEMA} of {where}: {oas.describe(e)}")

    # ----------------------------------------------------------------------------- one response

    def check(self, rec):
        path, method = rec.get("path", ""), (rec.get("method") or "GET").upper()
        if not isinstance(rec.get("status"), int) or rec["status"] <= 0:
            self.fail(rec, "no status")
            return
        if path != "/api" and not path.startswith("/api/"):
            self.skipped += 1
            return
        self.checked += 1
        rid = self.header(rec, "X-Request-Id")
        if not rid:
            self.fail(rec, "no X-Request-Id header")
        body = rec.get("body")
        if self.media(rec) == "application/problem+json" and isinstance(body, dict) and body.get("request_id") != rid:
            self.fail(rec, f"problem request_id {body.get('request_id')!r} is not the X-Request-Id {rid!r}")
        template = oas.match_path(self.templates, path)
        if rec["status"] in NGINX_STATUSES and (template is None or method == "OPTIONS"):
            self.kinds["nginx's own answers"] += 1
            self.check_problem(rec)
            return
        if template is None:
            self.kinds["unknown /api/ paths"] += 1
            if rec["status"] != 404:
                self.fail(rec, "an unknown /api/ path must be 404")
            self.check_problem(rec, {"not_found"})
            return
        item = self.doc["paths"][template]
        if method == "OPTIONS":
            self.kinds["CORS preflights"] += 1
            if rec["status"] != 204 or rec.get("body") is not None:
                self.fail(rec, "OPTIONS (CORS preflight) on an API path must be 204 without a body")
            return
        op_method = "get" if method == "HEAD" and "head" not in item else method.lower()
        op = item.get(op_method)
        if op is None:
            self.kinds["methods a path does not have"] += 1
            if rec["status"] in NGINX_STATUSES:
                self.check_problem(rec)
                return
            if rec["status"] != 405:
                self.fail(rec, f"{method} is not an operation of {template}: must be 405")
            self.check_problem(rec, {"method_not_allowed"})
            if not self.header(rec, "Allow"):
                self.fail(rec, "405 without Allow")
            return
        self.check_operation(rec, template, op_method, op, oas.pointer_join("#/paths", template, op_method))


def parse_sse(text):
    """The events of a text/event-stream as [{"event", "data"}] (data parsed as JSON), or raises
    ValueError. Comments and the id/retry fields are ignored; multi-line data is joined with \\n."""
    events = []
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if not data:
            continue
        joined = "\n".join(data)
        try:
            events.append({"event": name, "data": json.loads(joined)})
        except ValueError:
            raise ValueError(f"event {name!r}: data is not JSON: {joined[:200]!r}")
    return events


def fetch_document(url):
    """GET url/api/openapi.json as a log record (TLS not verified: the stack's certificate is self-signed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url.rstrip("/") + "/api/openapi.json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            status, headers, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    return {"method": "GET", "path": "/api/openapi.json", "status": status,
            "content_type": headers.get("Content-Type"),
            "headers": {k.lower(): v for k, v in headers.items()}, "body": body}


def self_test(doc):
    """The checker on made-up responses: each must pass or fail as marked. Guards against a checker
    that silently accepts everything."""
    rid = {"x-request-id": "r1"}

    def problem(status, code, **extra):
        return {"type": f"https://tollgate.invalid/problems/{code}", "title": "t", "status": status,
                "code": code, "detail": "d", "request_id": "r1", **extra}

    user = {"id": "0b6c53de-8f4c-4c2e-9d84-6a3c3c3fb1a1", "email": "a@example.com", "name": "", "role": "user",
            "email_verified": False, "mfa_enabled": False, "plan": "free", "created_at": "2026-11-29T13:42:50Z"}
    me = {"method": "GET", "path": "/api/auth/me", "status": 200, "content_type": "application/json",
          "headers": {**rid, "cache-control": "no-store"}, "body": user}
    uid = user["id"]
    usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    source = {"document_id": uid, "title": "Fox facts", "snippet": "the <mark>fox</mark> &amp; the dog"}
    quota = {"method": "POST", "path": "/api/projects", "status": 402, "content_type": "application/problem+json",
             "headers": rid, "body": problem(402, "quota_exceeded", metric="projects", used=3, limit=3)}
    chat = {"method": "POST", "path": f"/api/agents/{uid}/chat", "status": 200,
            "headers": {**rid, "cache-control": "no-store"}}
    chat_json = {**chat, "content_type": "application/json",
                 "body": {"conversation_id": uid, "message": {"id": uid, "role": "assistant", "content": "Hi.",
                                                              "created_at": "2026-11-29T13:42:50Z"},
                          "usage": usage, "sources": [source]}}

    def sse(*events):
        return "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events)

    chat_sse = {**chat, "content_type": "text/event-stream", "body": None,
                "text": sse(("start", {"conversation_id": uid, "message_id": uid}), ("delta", {"content": "Hi"}),
                            ("delta", {"content": "."}), ("done", {"usage": usage, "sources": [source]}))}
    doc_item = {"id": uid, "project_id": uid, "title": "Guide", "size_bytes": 11, "created_at": "2026-11-29T13:42:50Z",
                "updated_at": "2026-11-29T13:42:50Z", "excerpt": "hello world"}
    docs = {"method": "GET", "path": f"/api/projects/{uid}/documents", "status": 200, "content_type": "application/json",
            "headers": {**rid, "cache-control": "no-store"},
            "body": {"items": [doc_item, {**doc_item, "rank": 0.1, "snippet": "<mark>hello</mark> world"}],
                     "page": 1, "per_page": 50, "total": 2}}
    cases = [
        (True, me),
        (True, {**me, "method": "HEAD", "body": None}),
        (False, {**me, "body": {**user, "extra": 1}}),                        # an undocumented member
        (False, {**me, "body": {**user, "created_at": "yesterday"}}),         # not RFC 3339 UTC
        (False, {**me, "headers": rid}),                                       # no Cache-Control: no-store
        (False, {**me, "status": 404, "content_type": "application/problem+json",
                 "body": problem(404, "not_found")}),                          # status not documented
        (True, {**me, "status": 401, "content_type": "application/problem+json",
                "headers": {**rid, "www-authenticate": "Bearer"}, "body": problem(401, "unauthorized")}),
        (False, {**me, "status": 401, "content_type": "application/problem+json",
                 "headers": {**rid, "www-authenticate": "Bearer"}, "body": problem(401, "forbidden")}),
        (True, {"method": "PATCH", "path": "/api/profile", "status": 422, "content_type": "application/problem+json",
                "headers": rid, "body": problem(422, "validation_failed", errors={"name": "is required"})}),
        (False, {"method": "PATCH", "path": "/api/profile", "status": 422, "content_type": "application/problem+json",
                 "headers": rid, "body": problem(422, "validation_failed", errors={"email": "no"})}),
        (True, {"method": "DELETE", "path": "/api/auth/sessions/x", "status": 204, "content_type": None,
                "headers": rid, "body": None}),
        (False, {"method": "DELETE", "path": "/api/auth/sessions/x", "status": 204, "content_type": None,
                 "headers": {}, "body": None}),                                # no X-Request-Id
        (True, {"method": "GET", "path": "/api/nope", "status": 404, "content_type": "application/problem+json",
                "headers": rid, "body": problem(404, "not_found")}),
        (False, {"method": "GET", "path": "/api/nope", "status": 404, "content_type": "text/html",
                 "headers": rid, "body": None}),
        (True, {"method": "PUT", "path": "/api/health", "status": 405, "content_type": "application/problem+json",
                "headers": {**rid, "allow": "GET, HEAD, OPTIONS"}, "body": problem(405, "method_not_allowed")}),
        (False, {"method": "PUT", "path": "/api/health", "status": 200, "content_type": "application/json",
                 "headers": rid, "body": {"status": "ok", "version": "x"}}),
        (True, {"method": "POST", "path": "/api/health", "status": 413, "content_type": "application/problem+json",
                "headers": rid, "body": problem(413, "payload_too_large")}),
        (True, {"method": "OPTIONS", "path": "/api/health", "status": 204, "content_type": None, "headers": rid,
                "body": None}),
        (True, {"method": "GET", "path": "/login", "status": 200, "content_type": "text/html", "headers": {},
                "body": None}),
        (True, quota),
        (False, {**quota, "body": {k: v for k, v in quota["body"].items() if k != "metric"}}),  # no metric
        (False, {**quota, "body": {**quota["body"], "metric": "tokens"}}),     # not a metric
        (True, chat_json),
        (False, {**chat_json, "body": {**chat_json["body"], "sources": None}}),
        (True, chat_sse),
        (True, {**chat_sse, "text": sse(("start", {"conversation_id": uid, "message_id": uid}),
                                        ("delta", {"content": "Hel"}),
                                        ("error", {"code": "llm_unavailable", "detail": "the stream ended early"}))}),
        (False, {**chat_sse, "text": sse(("start", {"conversation_id": uid}))}),   # start without message_id
        (False, {**chat_sse, "text": sse(("done", {"usage": usage}))}),          # done without sources
        (False, {**chat_sse, "text": sse(("finish", {}))}),                      # an undocumented event
        (False, {**chat_sse, "text": "event: delta\ndata: {not json\n\n"}),
        (False, {**chat_sse, "content_type": "text/plain"}),
        (True, docs),
        (False, {**docs, "body": {**docs["body"], "items": [{**doc_item, "rank": 0.5}]}}),  # rank without snippet
        (False, {**docs, "body": {**docs["body"], "items": [{**doc_item, "content": "x"}]}}),  # lists carry no content
        (False, {"method": "POST", "path": f"/api/agents/{uid}", "status": 422,
                 "content_type": "application/problem+json", "headers": rid,
                 "body": problem(422, "validation_failed", errors={"model": "x"})}),  # no POST there: 405 expected
    ]
    bad = 0
    for n, (should_pass, rec) in enumerate(cases, 1):
        c = Checker(doc)
        c.check(rec)
        if (not c.failures) != should_pass:
            bad += 1
            print(f"FAIL self-test case {n} ({rec['method']} {rec['path']} {rec['status']}): expected to "
                  f"{'pass' if should_pass else 'fail'}; " + "; ".join(m for m, _ in c.failures))
    if not bad:
        print(f"ok   the response checker passes and fails its {len(cases)} made-up responses as it should")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", nargs="?")
    ap.add_argument("--self-test", action="store_true", help="check the checker on made-up responses, then exit")
    ap.add_argument("--min-records", type=int, default=0)
    ap.add_argument("--document", default=oas.DOCUMENT, help="the document to check against (default: "
                    "static/openapi.json; GET /api/openapi.json must serve it)")
    args = ap.parse_args()

    doc = oas.load_document(args.document)
    if args.self_test:
        return self_test(doc)
    if not args.log:
        ap.error("LOG is required")
    checker = Checker(doc)

    url = os.environ.get("TG_URL")
    if url:
        rec = fetch_document(url)
        if rec["status"] != 200 or rec["body"] != doc:
            checker.fail(rec, "GET /api/openapi.json does not serve static/openapi.json of this checkout")
        if checker.media(rec) != "application/json":
            checker.fail(rec, f"GET /api/openapi.json is served as {rec['content_type']!r}, not application/json")
        checker.check(rec)
        if not checker.failures:
            print(f"ok   GET {url}/api/openapi.json: {rec['status']} {rec['content_type']}")
    else:
        print("note TG_URL is not set: /api/openapi.json not fetched")

    records = bad_lines = 0
    try:
        with open(args.log, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    bad_lines += 1
                    print(f"FAIL {args.log}:{n}: not a JSON line: {line[:200]!r}")
                    continue
                records += 1
                checker.check(rec)
    except FileNotFoundError:
        pass

    # one line per distinct mismatch, with how often it happened and the first body
    distinct = collections.Counter(msg for msg, _ in checker.failures)
    first_body = {}
    for msg, body in checker.failures:
        first_body.setdefault(msg, body)
    for msg, n in list(distinct.items())[:MAX_REPORTED]:
        print(f"FAIL {msg}" + (f" (×{n})" if n > 1 else "") + f"\n       body: {first_body[msg]}")
    if len(distinct) > MAX_REPORTED:
        print(f"FAIL … and {len(distinct) - MAX_REPORTED} more distinct mismatches")

    ops = [(p, m) for p, item in doc["paths"].items() for m in oas.METHODS if m in item]
    unexercised = [f"{m.upper()} {p}" for p, m in ops if (p, m) not in checker.seen]
    print(f"note {records} responses logged, {checker.checked} to /api/ paths checked, {checker.skipped} to "
          f"other paths skipped; {len(ops) - len(unexercised)} of {len(ops)} operations exercised")
    if checker.kinds:
        print("     besides the operations: " + ", ".join(f"{n} {k}" for k, n in sorted(checker.kinds.items())))
    for (p, m), statuses in sorted(checker.seen.items()):
        print(f"     {m.upper():6} {p}: " + ", ".join(f"{s}×{c}" for s, c in sorted(statuses.items())))
    if unexercised:
        print("note not exercised by any logged response: " + ", ".join(unexercised))

    ok = not checker.failures and not bad_lines
    if records < args.min_records:
        print(f"FAIL only {records} responses in {args.log} (at least {args.min_records} expected): is "
              "TG_RESPONSE_LOG still recorded by tests/integration/itest.c?")
        ok = False
    if ok:
        print(f"ok   every checked response follows static/openapi.json")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
