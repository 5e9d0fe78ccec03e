"""Sends N log records through splunk_handler's SplunkHandler (a Splunk HEC logging handler),
flushing each record synchronously (flush_interval=0) to /services/collector/event.

Usage: splunk_hec.py PORT TOKEN N MARKER INDEX
Each event has host=hec-client-host, source=clients-test.py, sourcetype=kv (the built-in
parser of that name extracts `n` and `marker` from the message).
"""
import logging
import sys

from splunk_handler import SplunkHandler

port, token, n, marker, index = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
h = SplunkHandler(
    host="127.0.0.1", port=port, token=token, index=index, protocol="http",
    flush_interval=0, hostname="hec-client-host", source="clients-test.py",
    sourcetype="kv", verify=False, retry_count=0, timeout=60,
)
log = logging.getLogger("clients.splunk")
log.setLevel(logging.INFO)
log.propagate = False
log.addHandler(h)
for i in range(n):
    log.info("%s n=%d marker=%s", marker, i, marker)
h.close()
print("sent", n)
