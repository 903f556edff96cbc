"""Emits one agent run with the official OpenTelemetry Python SDK: spans over OTLP/gRPC,
log events over OTLP/HTTP (through the stdlib logging bridge, as Python apps do).

Prints the trace id (32 hex characters) on stdout. Used by the e2e test `python_sdk`.
"""

import argparse
import json
import logging

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc-endpoint", required=True)
    parser.add_argument("--http-endpoint", required=True)
    parser.add_argument("--marker", required=True)
    args = parser.parse_args()
    session = f"py-{args.marker}"

    resource = Resource.create({"service.name": "python-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=args.grpc_endpoint, insecure=True))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{args.http_endpoint}/v1/logs"))
    )
    log = logging.getLogger("python-agent")
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    log.setLevel(logging.INFO)
    log.propagate = False

    tracer = tracer_provider.get_tracer("python-agent")
    with tracer.start_as_current_span("invoke_agent coder") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "coder")
        agent.set_attribute("gen_ai.conversation.id", session)
        trace_id = format(agent.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-5", kind=SpanKind.CLIENT) as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-5")
            chat.set_attribute("gen_ai.usage.input_tokens", 500)
            chat.set_attribute("gen_ai.usage.output_tokens", 50)
            chat.set_attribute("gen_ai.conversation.id", session)
            chat.set_attribute(
                "gen_ai.input.messages",
                json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": f"fix {args.marker}"}]}]
                ),
            )
            log.info(
                "model call finished",
                extra={
                    "event.name": "api_request",
                    "session.id": session,
                    "model": "gpt-5",
                    "input_tokens": 500,
                    "output_tokens": 50,
                },
            )
        with tracer.start_as_current_span("execute_tool bash") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "bash")
            tool.set_attribute("gen_ai.tool.call.result", f"{args.marker}: 1 test failed")
            tool.set_status(Status(StatusCode.ERROR, "exit code 1"))

    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    print(trace_id)


if __name__ == "__main__":
    main()
