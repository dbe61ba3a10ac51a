"""One folder per provider: its routes, planners, wire encoders and errors.

A provider is added here by one line: its route table joins ROUTES.
"""

from __future__ import annotations

from ..api.routes import Endpoint
from .openai.routes import ROUTES as OPENAI

ROUTES: list[Endpoint] = [*OPENAI]
