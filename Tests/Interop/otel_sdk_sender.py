"""A Python service's spans, exported with the OpenTelemetry SDK's OTLP/HTTP exporter
(protobuf, gzip) to --endpoint: a request span and a handler span naming procrastinate job
--job. Prints the export result."""

import argparse

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

import lifeline


class Recording(OTLPSpanExporter):
    results = []

    def export(self, spans):
        result = super().export(spans)
        Recording.results.append(result)
        return result


def main() -> None:
    lifeline.exit_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--job", type=int, required=True)
    options = parser.parse_args()
    provider = TracerProvider(resource=Resource.create({"service.name": "python-sender"}))
    provider.add_span_processor(
        SimpleSpanProcessor(Recording(endpoint=options.endpoint, compression=Compression.Gzip)))
    tracer = provider.get_tracer("sender")
    with tracer.start_as_current_span("python.request"):
        with tracer.start_as_current_span("python.handler") as span:
            span.set_attribute("procrastinate.job.id", options.job)
    provider.shutdown()
    ok = all(result == SpanExportResult.SUCCESS for result in Recording.results)
    print(f"exported: {'SUCCESS' if ok and Recording.results else 'FAILURE'} ({len(Recording.results)} requests)")


if __name__ == "__main__":
    main()
