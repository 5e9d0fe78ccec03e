"""Sends N events with humiolib (LogScale's Python SDK): half structured
(`ingest_json_data`, humio-structured), half unstructured (`ingest_messages`, humio-unstructured
with the token's parser).

Usage: humio.py BASE_URL TOKEN N MARKER
"""
import sys

from humiolib.HumioClient import HumioIngestClient

base, token, n, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
client = HumioIngestClient(base_url=base, ingest_token=token)
half = n // 2
client.ingest_json_data([{
    "tags": {"host": "humio-client"},
    "events": [
        {"timestamp": f"2026-11-30T12:00:{i % 60:02d}", "timezone": "Europe/Copenhagen",
         "attributes": {"n": i, "kind": "structured"}, "rawstring": f"{marker} structured {i}"}
        for i in range(half)
    ],
}])
client.ingest_messages([f"{marker} unstructured n={i} kind=unstructured" for i in range(half, n)],
                       fields={"client": "humiolib"})
print("sent", n)
