"""``llmplex models``: aliases, configured and installed providers (with or without
credentials), and a vendor's own model list where its API has one."""

from __future__ import annotations

import argparse
import json
from typing import Any, List, TextIO

from ..errors import ConfigError, LLMError
from .common import EXIT_OK

__all__ = ["add_parser", "cmd_models", "vendor_models"]


def add_parser(sub: Any) -> None:
    models = sub.add_parser("models", help="aliases, providers and their credentials; a vendor's model list")
    models.add_argument("provider", nargs="?", help="ask this provider's API for its models (OpenAI-family: GET /models)")
    models.add_argument("--json", action="store_true", help="the vendor's model list as JSON")


def vendor_models(client: Any, name: str, *, timeout: float = 30.0) -> List[str]:
    """The model ids ``GET {base}/models`` lists, for a provider whose chat endpoint is
    ``{base}/chat/completions`` (the OpenAI family); the request carries the chat request's
    own authentication headers."""
    import requests

    from ..clock import SystemClock
    from ..provider.contract import WireResponse
    from ..schema.validation import make_request

    provider = client.provider(name)
    request = make_request("models", [{"role": "user", "content": "x"}])
    wire = provider.build_request(request, now=SystemClock().now())
    if not wire.url.endswith("/chat/completions") or wire.method != "POST":
        raise ConfigError(f"{name}: this provider's API has no model list llmplex knows how to read "
                          "(only OpenAI-family GET /models)", field="provider")
    url = wire.url[: -len("/chat/completions")] + "/models"
    headers = {k: v for k, v in wire.headers.items() if k.lower() not in ("content-type", "content-length")}
    try:
        reply = requests.get(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        from ..errors import ConnectionError

        raise ConnectionError(f"{name}: GET /models failed: {client.redactor.text(str(exc))}", provider=name) from None
    if reply.status_code != 200:
        raise provider.map_error(WireResponse(reply.status_code, {k.lower(): v for k, v in reply.headers.items()},
                                              reply.content), request)
    try:
        data = json.loads(reply.content)
        return sorted(str(item["id"]) for item in data["data"])
    except (ValueError, KeyError, TypeError):
        from ..errors import ProtocolError

        raise ProtocolError(f"{name}: GET /models did not answer {{'data': [{{'id': ...}}]}}", provider=name,
                            raw=reply.content[:2000]) from None


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client

    client = Client(args.config)
    if args.provider:
        ids = vendor_models(client, args.provider)
        out.write(json.dumps(ids, indent=2) + "\n" if args.json else "".join(f"{args.provider}/{i}\n" for i in ids))
        return EXIT_OK
    config = client.config
    out.write("Aliases ([models]):\n")
    for alias, target in sorted(config.models.items()):
        shown = target if isinstance(target, str) else " -> ".join(target)
        out.write(f"  {alias} = {shown}\n")
    if not config.models:
        out.write("  (none)\n")
    out.write("Providers (configured first, then installed):\n")
    names = config.provider_names() + sorted(set(client.plugins.providers) - set(config.provider_names()))
    for name in names:
        configured = "configured" if name in config.provider_names() else "installed"
        try:
            registered = client.plugins.get(config.implementation_of(name))
            config.settings_for(name, registered.spec)
            state = "credentials: yes"
        except LLMError as exc:
            state = "credentials: MISSING" if "credential" in str(exc).lower() or "environment" in str(exc).lower() \
                else f"error: {exc}"
        out.write(f"  {name:<20} {configured:<10} {state}\n")
    return EXIT_OK
