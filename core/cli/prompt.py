"""``llmplex prompt`` and ``llmplex request``: one call, or the request it would send."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, TextIO

from .common import EXIT_OK, attach_log, call_params, messages_of, pick_model, usage_line
from .format import format_wire

__all__ = ["cmd_prompt", "cmd_request"]


def _extras(args: argparse.Namespace, client: Any) -> Dict[str, Any]:
    """``--schema`` as a ``response_model``; ``-T`` tools are handled by the caller."""
    extra: Dict[str, Any] = {}
    schema = getattr(args, "schema", None)
    if schema:
        from .extras import schema_model

        extra["response_model"] = schema_model(schema)
    return extra


def cmd_prompt(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client

    client = Client(args.config)
    log = attach_log(client, args)
    try:
        return _prompt(args, client, out)
    finally:
        if log is not None:
            log.disable()


def _prompt(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    from .extras import attachments, load_tools

    model = pick_model(client, args.model)
    parts: Optional[List[Any]] = attachments(args.attach) if args.attach else None
    messages = messages_of(args, parts)
    params = call_params(args)
    params.update(_extras(args, client))
    if args.tools:
        result = client.run(model, messages, tools=load_tools(args.tools), **params)
        reply = result.response
        out.write(reply.text + "\n")
        usage = result.usage
    elif args.no_stream or args.json or "response_model" in params:
        reply = client.chat(model, messages, **params)
        if args.json:
            out.write(reply.model_dump_json(indent=2, exclude={"raw"}) + "\n")
        elif "response_model" in params:
            out.write(reply.parsed.model_dump_json(indent=2) + "\n")
        else:
            out.write(reply.text + "\n")
        usage = reply.usage
    else:
        stream = client.stream(model, messages, **params)
        for chunk in stream:
            out.write(chunk.text)
            out.flush()
        out.write("\n")
        usage = stream.response.usage if stream.response is not None else None
    if args.usage:
        sys.stderr.write(usage_line(usage) + "\n")
    return EXIT_OK


def cmd_request(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client
    from ..clock import FixedClock

    client = Client(args.config, clock=FixedClock(args.at) if args.at is not None else None)
    wire = client.prepare(pick_model(client, args.model), messages_of(args), stream=args.stream, **call_params(args))
    out.write(format_wire(client.redacted(wire)) + "\n")
    for warning in wire.warnings:
        # Beside the request, not in it: stdout stays exactly the request.
        sys.stderr.write(f"llmplex: warning: {warning}\n")
    return EXIT_OK
