"""One folder per provider: its routes, planners, wire encoders, errors and model data.

A provider is added by one line here: its Provider joins PROVIDERS. The first one answers what matches no
route (404/405) and the service routes' errors.
"""

from __future__ import annotations

from ..api.routes import Endpoint, Provider
from .anthropic.routes import PROVIDER as ANTHROPIC
from .azure.routes import PROVIDER as AZURE
from .bedrock.routes import PROVIDER as BEDROCK
from .gemini.routes import PROVIDER as GEMINI
from .ollama.routes import PROVIDER as OLLAMA
from .openai.routes import PROVIDER as OPENAI

PROVIDERS: tuple[Provider, ...] = (OPENAI, ANTHROPIC, AZURE, BEDROCK, GEMINI, OLLAMA)
ROUTES: list[Endpoint] = [route for provider in PROVIDERS for route in provider.routes]
