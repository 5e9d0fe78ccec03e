"""Sends N log records through the OpenTelemetry Python SDK's OTLP/HTTP (protobuf) exporter.

Usage: otlp_logs.py ENDPOINT TOKEN N MARKER GZIP(0|1)
Each record is a Python logging call inside a span (so it carries trace and span ids), with an
attribute `n` and the resource attribute service.name=clients-test. Prints one JSON line:
{"exported": records the exporter reported as sent, "failures": failed export calls,
 "trace_id": hex of the span's trace id, "span_id": hex}.
"""
import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

endpoint, token, n, marker, gz = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"

results = []


class RecordingExporter(OTLPLogExporter):
    def export(self, batch):
        r = super().export(batch)
        results.append((len(batch), r))
        return r


resource = Resource.create({"service.name": "clients-test"})
trace.set_tracer_provider(TracerProvider(resource=resource))
provider = LoggerProvider(resource=resource)
exporter = RecordingExporter(
    endpoint=endpoint,
    headers={"Authorization": f"Bearer {token}"},
    compression=Compression.Gzip if gz else Compression.NoCompression,
    timeout=60,
)
provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=200))
log = logging.getLogger("clients.otlp")
log.setLevel(logging.INFO)
log.propagate = False
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

tracer = trace.get_tracer("clients.otlp")
with tracer.start_as_current_span("send") as span:
    ctx = span.get_span_context()
    for i in range(n):
        log.warning("%s record %d", marker, i, extra={"n": i, "marker": marker})
provider.force_flush()
provider.shutdown()

ok = sum(k for k, r in results if r == LogRecordExportResult.SUCCESS)
failures = sum(1 for _, r in results if r != LogRecordExportResult.SUCCESS)
print(json.dumps({"exported": ok, "failures": failures,
                  "trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}))
sys.exit(0 if failures == 0 and ok == n else 1)
