"""Sends N documents with the official Elasticsearch Python client (v8): `info()` on the base
URL, then `helpers.bulk` (which PUTs `/_bulk` with the compatible-with=8 ndjson type) and one
`bulk(index=...)` call (`/{index}/_bulk`).

Usage: es_bulk.py BASE_URL TOKEN N MARKER [AUTH]
AUTH is `bearer` (default) or `api_key`: the client's `api_key=(id, key)`, which it sends as
`Authorization: ApiKey base64(id:key)`, with the ingest token as the key.
Prints one JSON line: {"version": info's version.number, "helpers_ok": documents helpers.bulk
reported stored, "index_items": items of the index-path call, "index_errors": its errors flag}.
"""
import json
import sys

from elasticsearch import Elasticsearch, helpers

base, token, n, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
auth = sys.argv[5] if len(sys.argv) > 5 else "bearer"
if auth == "api_key":
    es = Elasticsearch(base, api_key=("strata-client", token), request_timeout=60)
else:
    es = Elasticsearch(base, bearer_auth=token, request_timeout=60)
info = es.info()
half = n // 2


def actions():
    for i in range(half):
        yield {
            "_index": "clients-es",
            "_source": {
                "@timestamp": f"2026-11-30T10:00:{i % 60:02d}.{i % 1000:03d}Z",
                "message": f"{marker} helpers doc {i}",
                "n": i,
                "host": {"name": "es-client"},
            },
        }


ok, errors = helpers.bulk(es, actions(), chunk_size=100)
ops = []
for i in range(half, n):
    ops.append({"create": {}})
    ops.append({"@timestamp": f"2026-11-30T11:00:{i % 60:02d}Z", "message": f"{marker} path doc {i}", "n": i})
resp = es.bulk(index="clients-es-path", operations=ops)
print(json.dumps({
    "version": info["version"]["number"],
    "helpers_ok": ok,
    "helpers_errors": len(errors) if isinstance(errors, list) else errors,
    "index_items": len(resp["items"]),
    "index_errors": resp["errors"],
    "index_first": resp["items"][0],
}))
