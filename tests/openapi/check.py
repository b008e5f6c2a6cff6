#!/usr/bin/python3
"""check.py — unit checks of static/openapi.json (no stack needed).

usage: tests/openapi/check.py routes|document

  routes    every route of the route tables in src/api/*.c (method + pattern) is an operation of the
            document, and every operation is routed: by tollgate, or by nginx itself for the exact
            `location = /api/...` blocks of nginx/ (nginx/tollgate.conf and nginx/dev.conf.template
            must have the same ones). HEAD is implied by GET (the router answers HEAD on GET routes).
  document  the document is valid OpenAPI 3.1: it validates against the OAS 3.1 schema (vendored in
            tests/openapi/schema/), every Schema Object against the JSON Schema 2020-12 meta-schema,
            every $ref resolves, path parameters match their templates, operationIds are unique,
            security names exist; and it follows the API's conventions: every response documents
            X-Request-Id, errors are application/problem+json (their schema built on
            components/schemas/Problem), successes application/json — or text/event-stream, described
            by a string schema and an `x-item-schema` for its events (OAS 3.2's itemSchema, which 3.1
            lacks; tests/openapi/responses.py validates each event against it) — and every operation
            has a 2xx answer.

Prints one line per check ("ok   …" / "FAIL …"); exits 1 when any failed.
"""
import json
import os
import sys

import jsonschema

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oas  # noqa: E402

OAS_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", "oas-3.1.json")

failures = 0


def ok(msg):
    print(f"ok   {msg}")


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL {msg}")


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method in oas.METHODS:
            if method in item:
                yield path, method, item[method]


# ------------------------------------------------------------------------------------- routes

def self_test_parser():
    """The parser and the matcher on shapes the route table may take."""
    sample = """
    static const struct route routes[] = {
        {HTTP_GET | HTTP_HEAD, "/api/a/{id}", ROUTE_USER | ROUTE_BODY, h1}, /* a comment, {HTTP_PUT, "/x"} */
        {HTTP_POST,
         "/api/b", ROUTE_PUBLIC, h2},
        // {HTTP_DELETE, "/api/commented-out", ROUTE_USER, h3},
    };
    """
    got = [(m, p) for m, p, _, _, _ in oas.parse_route_tables(sample)]
    want = [("get", "/api/a/{id}"), ("head", "/api/a/{id}"), ("post", "/api/b")]
    if got != want:
        fail(f"route table parser: got {got}, want {want}")
        return
    try:
        oas.parse_route_tables('static const struct route r[] = {\n\tROUTE(HTTP_GET, "/api/x"),\n};')
        fail("route table parser accepts an entry it cannot read")
        return
    except ValueError:
        pass
    t = ["/api/notifications/read-all", "/api/notifications/{id}/read", "/api/x/{id}", "/api/x/mine"]
    cases = {"/api/x/mine": "/api/x/mine", "/api/x/123": "/api/x/{id}", "/api/x/": None,
             "/api/notifications/abc/read": "/api/notifications/{id}/read", "/api/notifications": None}
    for path, want_t in cases.items():
        if oas.match_path(t, path) != want_t:
            fail(f"path matcher: {path} -> {oas.match_path(t, path)}, want {want_t}")
            return
    ok("route table parser and path matcher self-test")


def check_routes(doc):
    self_test_parser()
    try:
        routes = oas.route_table()
    except ValueError as e:
        fail(f"route table: {e}")
        return
    if not routes:
        fail("no routes found in src/api/*.c")
        return
    routed = {}
    for method, pattern, _flags, handler, source in routes:
        if (pattern, method) in routed:
            fail(f"{method.upper()} {pattern} is routed twice ({routed[(pattern, method)]} and {source})")
        routed[(pattern, method)] = f"{source}:{handler}"

    # nginx's own exact /api/ locations (in nginx/, the two sites alike); each answers GET (and HEAD)
    per_config = {os.path.relpath(p, oas.REPO): oas.nginx_api_files(p) for p in oas.NGINX_CONFIGS}
    sets = list(per_config.values())
    if any(s != sets[0] for s in sets):
        fail(f"the nginx sites differ in their exact /api/ locations: {per_config}")
    for path in set().union(*(oas.nginx_api_files(p) for p in oas.nginx_files())):
        routed.setdefault((path, "get"), "nginx")

    documented = {(p, m) for p, m, _ in operations(doc)}
    gets = {p for p, m in routed if m == "get"}
    missing = sorted(k for k in routed if k not in documented and not (k[1] == "head" and k[0] in gets))
    for path, method in missing:
        fail(f"{method.upper()} {path} ({routed[(path, method)]}) is not in static/openapi.json")
    extra = sorted(k for k in documented if k not in routed and not (k[1] == "head" and k[0] in gets))
    for path, method in extra:
        fail(f"{method.upper()} {path} is in static/openapi.json but nothing routes it")
    if not missing and not extra:
        ok(f"the {len(routes)} routes of src/api and {len(routed) - len(routes)} nginx location(s) are exactly "
           f"the document's {len(documented)} operations")


# ------------------------------------------------------------------------------------- document

def walk_refs(node, pointer, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append((pointer, node["$ref"]))
        for k, v in node.items():
            walk_refs(v, oas.pointer_join(pointer, k), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, oas.pointer_join(pointer, i), out)


def schema_objects(doc):
    """(pointer, schema) of every Schema Object the document has outside components.schemas' insides."""
    comps = doc.get("components", {})
    for name, s in comps.get("schemas", {}).items():
        yield oas.pointer_join("#/components/schemas", name), s

    def in_content(content, base):
        for mt, media in (content or {}).items():
            for key in ("schema", oas.ITEM_SCHEMA):
                if key in media:
                    yield oas.pointer_join(base, "content", mt, key), media[key]

    def in_params(params, base):
        for i, p in enumerate(params or []):
            if "schema" in p:
                yield oas.pointer_join(base, i, "schema"), p["schema"]

    def in_responses(responses, base):
        for status, r in (responses or {}).items():
            rb = oas.pointer_join(base, status)
            yield from in_content(r.get("content"), rb)
            for h, hv in (r.get("headers") or {}).items():
                if "schema" in hv:
                    yield oas.pointer_join(rb, "headers", h, "schema"), hv["schema"]

    for kind in ("parameters", "headers"):
        for name, p in comps.get(kind, {}).items():
            if "schema" in p:
                yield oas.pointer_join("#/components", kind, name, "schema"), p["schema"]
    yield from in_responses(comps.get("responses"), "#/components/responses")
    for name, rb in comps.get("requestBodies", {}).items():
        yield from in_content(rb.get("content"), oas.pointer_join("#/components/requestBodies", name))
    for path, item in doc.get("paths", {}).items():
        pb = oas.pointer_join("#/paths", path)
        yield from in_params(item.get("parameters"), oas.pointer_join(pb, "parameters"))
        for method in oas.METHODS:
            if method not in item:
                continue
            o, ob = item[method], oas.pointer_join(pb, method)
            yield from in_params(o.get("parameters"), oas.pointer_join(ob, "parameters"))
            yield from in_content((o.get("requestBody") or {}).get("content"), oas.pointer_join(ob, "requestBody"))
            yield from in_responses(o.get("responses"), oas.pointer_join(ob, "responses"))


def builds_on_problem(doc, schema, seen=()):
    """True when schema is components/schemas/Problem, or reaches it through $ref, allOf (any member)
    or oneOf/anyOf (every member)."""
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if ref == "#/components/schemas/Problem":
        return True
    if isinstance(ref, str) and ref not in seen:
        try:
            if builds_on_problem(doc, oas.pointer_get(doc, ref), seen + (ref,)):
                return True
        except (KeyError, IndexError, ValueError, TypeError):
            return False
    if any(builds_on_problem(doc, s, seen) for s in schema.get("allOf", [])):
        return True
    for key in ("oneOf", "anyOf"):
        if schema.get(key) and all(builds_on_problem(doc, s, seen) for s in schema[key]):
            return True
    return False


def check_document(doc):
    with open(OAS_SCHEMA, encoding="utf-8") as f:
        meta = json.load(f)
    errs = sorted(jsonschema.Draft202012Validator(meta).iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errs[:20]:
        fail(f"OAS 3.1 schema: {oas.describe(e)}")
    if not errs:
        ok(f"valid against the OAS 3.1 schema ({meta.get('$id')})")
    if not str(doc.get("openapi", "")).startswith("3.1."):
        fail(f"openapi is {doc.get('openapi')!r}, not 3.1.x")

    refs = []
    walk_refs(doc, "#", refs)
    bad = 0
    for where, target in refs:
        try:
            oas.pointer_get(doc, target)
        except (KeyError, IndexError, ValueError, TypeError):
            fail(f"{where}: $ref {target} does not resolve")
            bad += 1
    if not bad:
        ok(f"all {len(refs)} $refs resolve")

    n = bad = 0
    for pointer, s in schema_objects(doc):
        n += 1
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            fail(f"{pointer}: not a JSON Schema 2020-12 schema: {e.message[:200]}")
            bad += 1
    if not bad:
        ok(f"all {n} Schema Objects are valid JSON Schema 2020-12")

    comps = doc.get("components", {})
    schemes = set(comps.get("securitySchemes", {}))
    tags = {t["name"] for t in doc.get("tags", [])}
    seen_ids = {}
    problems_before = failures
    for path, method, o in operations(doc):
        name = f"{method.upper()} {path}"
        oid = o.get("operationId")
        if not oid:
            fail(f"{name}: no operationId")
        elif oid in seen_ids:
            fail(f"{name}: operationId {oid} also used by {seen_ids[oid]}")
        else:
            seen_ids[oid] = name
        for t in o.get("tags", []):
            if t not in tags:
                fail(f"{name}: tag {t} is not declared")
        if "security" not in o:
            fail(f"{name}: no security (say [] for a public operation)")
        for req in o.get("security", []):
            for s in req:
                if s not in schemes:
                    fail(f"{name}: security scheme {s} is not declared")
        # path parameters: exactly the template's
        item = doc["paths"][path]
        params = [oas.resolve(doc, p, "")[0] for p in item.get("parameters", []) + o.get("parameters", [])]
        declared = {p["name"] for p in params if p.get("in") == "path"}
        in_template = {s[1:-1] for s in path.split("/") if s.startswith("{") and s.endswith("}")}
        if declared != in_template:
            fail(f"{name}: path parameters {sorted(declared)} do not match the template's {sorted(in_template)}")
        # responses
        responses = o.get("responses", {})
        if not any(s.startswith("2") for s in responses):
            fail(f"{name}: no 2xx response")
        for status, r in responses.items():
            r, _ = oas.resolve(doc, r, "")
            where = f"{name} {status}"
            if "x-request-id" not in {h.lower() for h in r.get("headers", {})}:
                fail(f"{where}: does not document the X-Request-Id header")
            content = r.get("content", {})
            if status[0] in "45" and set(content) != {"application/problem+json"}:
                fail(f"{where}: an error must be application/problem+json alone, not {sorted(content)}")
            if status[0] == "2" and any(mt not in ("application/json", "text/event-stream") for mt in content):
                fail(f"{where}: a success is application/json (or text/event-stream), not {sorted(content)}")
            sse = content.get("text/event-stream")
            if sse is not None and (oas.resolve(doc, sse.get("schema") or {}, "")[0].get("type") != "string"
                                    or oas.ITEM_SCHEMA not in sse):
                fail(f"{where}: text/event-stream needs a string schema and an {oas.ITEM_SCHEMA} for its events")
            if status == "204" and content:
                fail(f"{where}: 204 has no content")
            if status[0] in "45":
                target = content.get("application/problem+json", {}).get("schema", {})
                if not builds_on_problem(doc, target):
                    fail(f"{where}: the problem schema does not build on components/schemas/Problem")
            if status == "429" and "retry-after" not in {h.lower() for h in r.get("headers", {})}:
                fail(f"{where}: 429 without Retry-After")
    if failures == problems_before:
        ok(f"{len(seen_ids)} operations: unique operationIds, declared tags and security schemes, path "
           "parameters, 2xx answers, X-Request-Id, problem+json errors")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("routes", "document"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        doc = oas.load_document()
    except (OSError, ValueError) as e:
        fail(f"static/openapi.json: {e}")
        return 1
    (check_routes if mode == "routes" else check_document)(doc)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
