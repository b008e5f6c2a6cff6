"""oas.py — what the OpenAPI checks share: the document, $ref resolution, schema validation, path
matching, and the route tables of src/api/*.c and the exact /api/ locations of the nginx configs.

Run with /usr/bin/python3 (Debian's python3-jsonschema, installed by scripts/install-deps).
"""
import json
import os
import re

import jsonschema

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCUMENT = os.path.join(REPO, "static", "openapi.json")
NGINX_CONFIGS = [os.path.join(REPO, "nginx", "tollgate.conf"), os.path.join(REPO, "nginx", "dev.conf.template")]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A Media Type Object's schema of each item of a sequential media type (text/event-stream): OAS 3.2's
# `itemSchema`, which OAS 3.1 does not have, as a specification extension. For text/event-stream an item
# is one event as {"event": name, "data": the data parsed as JSON}.
ITEM_SCHEMA = "x-item-schema"


def load_document(path=DOCUMENT):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pointer_get(doc, pointer):
    """The value at a JSON pointer ("#/a/b~1c"); KeyError/IndexError when there is none."""
    if pointer in ("#", ""):
        return doc
    if not pointer.startswith("#/"):
        raise KeyError(f"not a local reference: {pointer}")
    node = doc
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def pointer_join(pointer, *parts):
    return pointer + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(doc, node, pointer):
    """Follows $ref (Reference Objects) from node at pointer: returns (target, its pointer)."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"]
        if pointer in seen:
            raise ValueError(f"$ref cycle at {pointer}")
        seen.add(pointer)
        node = pointer_get(doc, pointer)
    return node, pointer


class SchemaValidator:
    """Validates instances against the Schema Object at a pointer of the document. The document itself
    is the root schema, with a "$ref" to that pointer: its other members are no JSON Schema keywords,
    so every "#/components/..." reference resolves inside it, with no resolver needed."""

    def __init__(self, doc):
        self.doc = doc
        self.cache = {}

    def errors(self, pointer, instance):
        v = self.cache.get(pointer)
        if v is None:
            root = dict(self.doc)
            root["$ref"] = pointer
            v = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
            self.cache[pointer] = v
        return sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))


def describe(err):
    where = "/".join(str(p) for p in err.absolute_path) or "(body)"
    return f"{where}: {err.message[:300]}"


def template_match(template, path):
    """True when a concrete path matches a path template: literal segments equal, {param} any
    non-empty segment (the router's rule)."""
    ts, ps = template.split("/"), path.split("/")
    if len(ts) != len(ps):
        return False
    return all(t == p or (t.startswith("{") and t.endswith("}") and p != "") for t, p in zip(ts, ps))


def match_path(templates, path):
    """The template matching path, the one with the most literal segments when several do."""
    best = None
    for t in templates:
        if template_match(t, path):
            literal = sum(not s.startswith("{") for s in t.split("/"))
            if best is None or literal > best[0]:
                best = (literal, t)
    return best[1] if best else None


_C_METHOD = {"HTTP_GET": "get", "HTTP_HEAD": "head", "HTTP_POST": "post", "HTTP_PUT": "put",
             "HTTP_PATCH": "patch", "HTTP_DELETE": "delete", "HTTP_OPTIONS": "options"}
_TABLE = re.compile(r"struct\s+route\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\}\s*;", re.S)
# {methods, "pattern", flags, handler[, fields]}
_ENTRY = re.compile(r'\{\s*(HTTP_[A-Z]+(?:\s*\|\s*HTTP_[A-Z]+)*)\s*,\s*"([^"]*)"\s*,\s*([^,{}]+?)\s*,\s*(\w+)\s*(?:,\s*\w+\s*)?\}')


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def parse_route_tables(text, source="<text>"):
    """[(method, pattern, flags, handler, source)] of every `struct route NAME[] = {...};` table in C
    text. Methods may be OR-ed (one entry per method). Raises ValueError on anything in a table that
    is not an entry, so a route written in a shape this parser does not know fails loudly."""
    routes = []
    text = strip_c_comments(text)
    for table in _TABLE.finditer(text):
        body = table.group(2)
        for m in _ENTRY.finditer(body):
            for name in re.split(r"\s*\|\s*", m.group(1)):
                if name not in _C_METHOD:
                    raise ValueError(f"{source}: unknown method {name} in {m.group(0)}")
                routes.append((_C_METHOD[name], m.group(2), m.group(3).strip(), m.group(4), source))
        rest = re.sub(r"\{\s*0\s*\}", "", _ENTRY.sub("", body))  # {0} ends a table
        if rest.replace(",", "").strip():
            raise ValueError(f"{source}: table {table.group(1)} has text that is not a route entry: "
                             f"{' '.join(rest.replace(',', ' ').split())[:200]}")
    return routes


def route_table(repo=REPO):
    """The routes of every table in src/api/*.c."""
    routes = []
    api = os.path.join(repo, "src", "api")
    for name in sorted(os.listdir(api)):
        if name.endswith(".c"):
            with open(os.path.join(api, name), encoding="utf-8") as f:
                routes += parse_route_tables(f.read(), os.path.join("src", "api", name))
    return routes


_EXACT_LOCATION = re.compile(r"^\s*location\s+=\s+(/api/\S+)\s*\{", re.M)


def nginx_api_files(path):
    """The /api/ paths an nginx config answers itself with an exact location (`location = /api/...`)."""
    with open(path, encoding="utf-8") as f:
        return set(_EXACT_LOCATION.findall(f.read()))


def nginx_files(repo=REPO):
    """Every file of nginx/ (the two sites and whatever they may include)."""
    d = os.path.join(repo, "nginx")
    return [os.path.join(d, n) for n in sorted(os.listdir(d)) if os.path.isfile(os.path.join(d, n))]
