#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from the project's own
fixtures (tests/fixtures/vectors.json, tests/fixtures/platforms/) and a few
hand-written cases. Re-run after changing the fixtures; the output is
committed (`cargo test` replays it, `make fuzz` starts from it).

Formats are those of shared/src/fuzzing.rs."""

import json
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DEFAULT_NOW = 1700000000

FAMILIES = {
    "verify_header_hmac": {"leaflink", "leaftrade", "smarterlaunch", "github", "shopify", "hmac"},
    "verify_leaddone": {"leaddone"},
    "verify_standard_webhooks": {"standard-webhooks"},
    "verify_stripe": {"stripe"},
    "verify_static": {"token", "basic"},
    "verify_leanbe": {"leanbe"},
}

seeds = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    files = seeds.setdefault(target, {})
    assert name not in files, (target, name)
    files[name] = data


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def request(config, now, headers, body):
    lines = [compact(config), str(now)]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\n".join(lines) + "\n\n" + body


vectors = json.load(open(os.path.join(FIXTURES, "vectors.json"), encoding="utf-8"))
configs = []
for v in vectors["vectors"]:
    cfg, inp, exp = v["config"], v["input"], v["expect"]
    configs.append((v["name"], cfg))
    now = inp["timestamp"] or DEFAULT_NOW
    body = exp["body"] if exp["body"] is not None else inp["body"]
    for target, schemes in FAMILIES.items():
        if cfg["scheme"] in schemes:
            add(target, "sign-" + v["name"], request(cfg, now, exp["headers"], body))
    add(
        "sign_verify",
        v["name"],
        "\n".join([compact(cfg), str(now), inp["id"] or "msg_vector", inp["event_type"] or "", inp["body"]]),
    )
for kind in ("positive", "negative"):
    for c in vectors[kind]:
        cfg, req = c["config"], c["request"]
        for target, schemes in FAMILIES.items():
            if cfg["scheme"] in schemes:
                add(target, f"{kind}-{c['name']}", request(cfg, c["now"], req["headers"], req["body"]))

# JSON documents: the platforms' sample bodies and the vectors' bodies.
documents = {}
platforms = os.path.join(FIXTURES, "platforms")
for platform in sorted(os.listdir(platforms)):
    d = os.path.join(platforms, platform)
    if not os.path.isdir(d):
        continue
    for f in sorted(os.listdir(d)):
        if f.startswith("input"):
            documents[f"{platform}-{f}"] = open(os.path.join(d, f), encoding="utf-8").read()
for v in vectors["vectors"]:
    try:
        json.loads(v["input"]["body"])
        documents["vector-" + v["name"]] = v["input"]["body"]
    except ValueError:
        pass

# What js_stringify's unit tests know JavaScript does differently from serde_json.
tricky = {
    "key-order": '{"b":1,"a":2,"10":3,"2":4,"01":5,"-1":6,"1.0":7,"4294967295":8,"4294967294":9,"0":10,"":11}',
    "duplicates": '{"x":1,"5":2,"x":3,"5":4,"a":{"p":1},"a":[2]}',
    "numbers": "[1.0,1e21,1e20,1e-7,0.000001,123456789012345678901234567890,-0,-0.0,5e-324,2.5e-324,1e-400,"
    "1.7976931348623157e308,18446744073709551615,9007199254740993,-9223372036854775808,123e-20,1E+2,4.35]",
    "escapes": r'"\u0000\u001f\u007f\b\f\n\r\t\/\"\\\u2028\u2029😀é\ud83d\ude00\u0001\u000B"',
    "pretty": '{\n  "event": "order.created",\n  "data": {\n    "id": 42,\n    "items": [\n      1,\n      2.50\n    ],\n    "2": true\n  }\n}\n',
    "empty": '{"a":{},"b":[[]],"c":""}',
    "proto": '{"__proto__":1,"a":2}',
    "out-of-range": "[1e400]",
    "lone-surrogate": '"\\ud800"',
    "bom": "\ufeff{}",
    "trailing-comma": "[1,]",
}
for name, text in {**documents, **tricky}.items():
    add("js_stringify", name, text)

pointers = ["/event", "/id", "/type", "/payload/_id", "/tags/0/title", "/data/order_id", "", "/a~1b", "/m~0n", "/0"]
for i, (name, text) in enumerate(sorted(documents.items())):
    add("json_pointer", name, pointers[i % len(pointers)] + "\n" + text)
add("json_pointer", "escapes", '/data/a~1b\n{"data":{"a/b":1,"m~n":2,"tags":["a","b"]},"data":{"a/b":[1.50]}}')
add("json_pointer", "array-index", '/data/tags/1\n{"data":{"tags":["a","b",3]}}')
add("json_pointer", "leading-zero", '/data/tags/01\n{"data":{"tags":["a","b"]}}')

# Leanbe bodies: payloads to sign, and signed bodies to verify.
for name, text in documents.items():
    if name.startswith("leanbe") or name.startswith("vector-leanbe"):
        add("leanbe_body", "payload-" + name, text)
for v in vectors["vectors"]:
    if v["expect"]["body"] is not None:
        add("leanbe_body", "signed-" + v["name"], v["expect"]["body"])
for c in vectors["positive"] + vectors["negative"]:
    if c["config"]["scheme"] == "leanbe":
        add("leanbe_body", "request-" + c["name"], c["request"]["body"])

# Queue messages, as the README documents them and as the code writes them.
add("envelope", "readme",
    '{"version": 1, "id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "source": "github", "event_type": "push", '
    '"received_at": "2026-11-22T10:00:00.123Z", "headers": {"content-type": "application/json", '
    '"x-github-event": "push"}, "body": "{\\"ref\\":\\"refs/heads/main\\"}", "body_encoding": "utf8"}')
add("envelope", "base64-bulk",
    '{"version":1,"id":"o-1","source":"leaddone","event_type":null,"received_at":"2026-01-01T00:00:00.123456+02:00",'
    '"headers":{},"body":"/wAQYQ==","body_encoding":"base64","bulk_index":3}')
add("envelope", "minimal", '{"version":1,"id":"x","source":"s","received_at":"2026-01-01T00:00:00Z","body":""}')
add("envelope", "receiver-form", "evt_1\norder.created\n" + documents["leanbe-input.json"])
add("envelope", "receiver-form-binary", b"msg_2\n\n\xff\x00\x10a\xef\xbf\xbf")

add("job", "readme",
    '{"version": 1, "id": "job_5f0c", "endpoint": "billing", "event_type": "invoice.paid", '
    '"payload": {"invoice": 42}, "created_at": "2026-11-22T10:00:00.000Z"}')
add("job", "fanned-out",
    '{"version":1,"id":"job_0123","endpoint":"crm","event_type":"order.created","payload":{"a": 1.50},'
    '"created_at":"2026-11-22T10:00:00.000Z","event_id":"evt_1","subscription_unchecked":true}')
add("job", "no-version", '{"id":"j","endpoint":"e","event_type":"","payload":"x","created_at":"2026-01-01T00:00:00+05:30"}')

add("event", "doc", '{"version": 1, "id": "evt_123", "type": "order.created", "payload": {"id": 42}}')
add("event", "relayed", '{"version":1,"id":"leaddone:o-1","type":"order.created","payload":[1,2.0,"x"],"source":"leaddone"}')
add("event", "minimal", '{"type":"a.b","payload":{"x": 1.0, "y":[1,2]}}')

# Configurations.
for name, cfg in configs:
    add("source_config", name, compact({"signature": cfg}))
add("source_config", "readme",
    '{"signature": {"scheme": "github", "keys": ["<key>"]}, "event_type": {"header": "X-GitHub-Event"}, '
    '"delivery_id": {"header": "X-GitHub-Delivery"}, "forward_headers": ["X-Request-Id"], "relay": true}')
add("source_config", "leaddone-bulk",
    '{"signature": {"scheme": "leaddone", "clients": {"shop-1": ["key-1"], "shop-2": ["key-2", '
    '{"secret": "old-key", "not_after": "2026-01-01T00:00:00Z"}]}}, "bulk": {"id_pointer": "/order_id", "max_elements": 50}}')
add("source_config", "pointers",
    '{"signature":{"scheme":"hmac","keys":["k"],"timestamp_header":"X-Ts","id_header":"X-Id","template":"{id}:{timestamp}:{body}"},'
    '"event_type":{"json_pointer":"/event"},"delivery_id":{"json_pointer":""}}')

for name, cfg in configs:
    add("endpoint_config", name, compact({"url": "https://example.com/hooks", "signature": cfg}))
add("endpoint_config", "readme",
    '{"url": "https://erp.example.com/hooks/orders", "signature": {"scheme": "standard-webhooks", "keys": ["whsec_dGVzdA=="]}, '
    '"headers": {"Authorization": "Bearer <token>"}, "timeout_secs": 15, "retry": {"delays": ["10s", "100s"], "jitter": 0}, '
    '"events": ["order.*"], "filters": [{"pointer": "/status", "not_one_of": ["Approving"]}]}')
add("endpoint_config", "leaddone-batch",
    '{"url":"http://localhost:9000/x","allow_http":true,"signature":{"scheme":"leaddone","client_id":"c","keys":["k"]},'
    '"batch":{"max_items":5},"idempotency_header":null,"enabled":false,"description":"d"}')
# A key that is a substring of an error's own words (a false finding of the
# first run, kept so the check stays precise).
add("endpoint_config", "key-inside-an-error-text",
    '{"url":"http3://exampwwwwwwwwwwwwwwwwwwwwwww,wwwww=www]}wwwwwwwwwwwwwwwwwle.#oBasic s",'
    '"signature":{"scheme":"smarterlaunch","keys":["invalid domain charact"]}}')
add("endpoint_config", "filters-health",
    '{"url":"https://x.io/a?b=c","events":["*","idea.*"],"filters":[{"pointer":"/n","equals":1.0},'
    '{"pointer":"/s","one_of":["a",{"b":[1]}]}],"health":{"consecutive_days":2.5,"rate_threshold":0.9,'
    '"rate_min_attempts":0,"rate_window_hours":24},"retry":{"delays":[5,"1m 40s","2h"],"jitter":0.2},'
    '"idempotency_header":"X-Idempotency-Key","headers":{"Content-Type":"application/vnd.x+json"}}')

if os.path.isdir(SEEDS):
    shutil.rmtree(SEEDS)
for target, files in sorted(seeds.items()):
    os.makedirs(os.path.join(SEEDS, target))
    for name, data in files.items():
        with open(os.path.join(SEEDS, target, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds")
