"""Which provider's route a recorded request was sent to, as simctl's server would route it (the drift check asks
what the route says about sending it again, and how the provider's upstream takes a key).

A cassette holds the path as the client sent it to its upstream: an OpenAI-compatible server's path may have a
prefix simctl does not route (`/api/v1/chat/completions`) or none (`/chat/completions`); the path's endings, and
the ending under `/v1`, are tried after the path itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import compile_path

from ..api.routes import Endpoint, Provider


@dataclass(frozen=True)
class Routed:
    provider: Provider
    endpoint: Endpoint
    path: str  # the path as the route matched it (an ending of the recorded one, or it)
    request: Request  # a stand-in request (method, path, headers, path parameters) for the provider's functions


@cache
def _table() -> tuple[tuple[Provider, Endpoint, re.Pattern[str], dict[str, Any]], ...]:
    from ..providers import PROVIDERS

    out = []
    for provider in PROVIDERS:
        for endpoint in provider.routes:
            pattern, _, converters = compile_path(endpoint.path)
            out.append((provider, endpoint, pattern, converters))
    return tuple(out)


def _paths(path: str) -> list[str]:
    """The path, its endings at each `/`, then those endings under /v1 (each once, in that order)."""
    cuts = [i for i, c in enumerate(path) if c == "/" and i > 0]
    endings = [path, *(path[i:] for i in cuts)]
    return list(dict.fromkeys([*endings, *("/v1" + e for e in endings if not e.startswith("/v1/"))]))


def route_of(method: str, path: str, headers: Mapping[str, str],
             query: Mapping[str, str] | None = None) -> Routed | None:
    """The provider and route that would answer this request (the claiming provider where two share a path)."""
    method = method.upper()
    for candidate in _paths(path):
        found = []
        for provider, endpoint, pattern, converters in _table():
            matched = pattern.match(candidate) if endpoint.method == method else None
            if matched is not None:
                params = {k: converters[k].convert(v) for k, v in matched.groupdict().items()}
                found.append((provider, endpoint, _request(method, candidate, headers, query or {}, params)))
        if found:
            # As serve/server.py picks among endpoints sharing a method and path: the one whose provider claims it.
            provider, endpoint, request = next(((p, e, r) for p, e, r in found if p.claims is not None
                                                and p.claims(r)), found[0])
            return Routed(provider, endpoint, candidate, request)
    return None


def _request(method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str],
             params: dict[str, Any]) -> Request:
    return Request({"type": "http", "method": method, "path": path, "root_path": "", "scheme": "http",
                    "server": ("127.0.0.1", 80), "query_string": urlencode(dict(query)).encode(),
                    "headers": [(k.lower().encode("latin-1", "replace"), str(v).encode("latin-1", "replace"))
                                for k, v in headers.items()],
                    "path_params": params})
