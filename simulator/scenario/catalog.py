"""The models a simulated service has, their aliases, and which endpoints each serves.

Each provider's models are data in its own folder (simulator/providers/NAME/models.yaml): a scenario
lists them with `catalog: NAME` (or a list of names), and any scenario model with one of their ids
inherits what the file says of it. The files are found by name, as the built-in scenarios are: this
layer reads the providers' data, never their code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..errors import APIError, model_not_found

# Endpoint names used by the API modules when they ask whether a model serves them. `realtime` is the Realtime
# API's WebSocket (providers/openai/realtime); its models are refused elsewhere as OpenAI does.
CHAT, COMPLETIONS, EMBEDDINGS, IMAGES, RESPONSES, TEXT_GENERATION, RANKING = (
    "chat", "completions", "embeddings", "images", "responses", "text_generation", "ranking",
)
MODERATIONS, AUDIO, REALTIME = "moderations", "audio", "realtime"
SPEECH, TRANSCRIPTIONS, TRANSLATIONS = "speech", "transcriptions", "translations"  # /v1/audio/...

ENDPOINTS_BY_KIND: dict[str, frozenset[str]] = {
    "chat": frozenset({CHAT, RESPONSES, TEXT_GENERATION}),
    "reasoning": frozenset({CHAT, RESPONSES, TEXT_GENERATION}),
    "completion": frozenset({COMPLETIONS, TEXT_GENERATION}),
    "embedding": frozenset({EMBEDDINGS}),
    "image": frozenset({IMAGES}),
    "rerank": frozenset({RANKING}),
    "moderation": frozenset({MODERATIONS}),
    # A scenario's own audio model serves every audio route; the catalog's each name theirs (models.yaml).
    "audio": frozenset({AUDIO, SPEECH, TRANSCRIPTIONS, TRANSLATIONS}),
    "realtime": frozenset({REALTIME}),
}
TOKENIZERS = ("o200k_base", "cl100k_base")
BUILTIN = "openai"  # the catalog of the default scenario's OpenAI routes
PROVIDERS_PACKAGE = "simulator.providers"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str = "openai"
    created: int = 1700000000
    kind: str = "chat"
    aliases: tuple[str, ...] = ()
    endpoints: frozenset[str] = field(default_factory=frozenset)
    context_window: int = 128000
    dimensions: int | None = None  # embedding models only
    tokenizer: str = "cl100k_base"
    max_output_tokens: int | None = None
    legacy: bool = False  # older than the Responses API, which does not know it
    system_messages: bool = True  # False: system/developer messages refused (o1-mini)
    vision: bool = True  # False: image parts refused on chat
    # What a provider's own listing says of the model beyond these keys (Ollama's digest, size, details...),
    # as models.yaml gives it: carried through untouched, read by that provider only.
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reasoning(self) -> bool:
        return self.kind == "reasoning"

    def card(self) -> dict[str, object]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}


MODEL_KEYS = tuple(f.name for f in fields(ModelInfo))


class Catalog:
    def __init__(self, models: list[ModelInfo]) -> None:
        self.models = models
        self._by_name: dict[str, ModelInfo] = {}
        for m in models:
            self._by_name[m.id] = m
            for alias in m.aliases:
                self._by_name.setdefault(alias, m)

    def get(self, name: str) -> ModelInfo | None:
        return self._by_name.get(name)

    def resolve(self, name: str, endpoint: str) -> ModelInfo:
        """The model for `name` on `endpoint`, or the error the real API gives."""
        model = self._by_name.get(name)
        if model is None:
            if endpoint == RESPONSES:  # the Responses API says it its own way: 400, naming the parameter
                raise APIError(400, f"The requested model '{name}' does not exist.", param="model",
                               code="model_not_found")
            raise model_not_found(name)
        if endpoint not in model.endpoints:
            raise wrong_endpoint(model, endpoint, name)
        return model


def wrong_endpoint(model: ModelInfo, endpoint: str, name: str) -> APIError:
    """What OpenAI answers when a model it has is sent to an endpoint that does not serve it."""
    if endpoint == CHAT:
        if RESPONSES in model.endpoints:  # the pro, codex and deep-research models
            return APIError(404, "This model is only supported in v1/responses and not in v1/chat/completions.",
                            param="model")
        return APIError(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
            "Did you mean to use v1/completions?",
            param="model",
        )
    if endpoint == COMPLETIONS:
        return APIError(
            404,
            "This is a chat model and not supported in the v1/completions endpoint. "
            "Did you mean to use v1/chat/completions?",
            param="model",
        )
    if endpoint == RESPONSES:
        if model.legacy:
            return APIError(400, f"The requested model, '{name}' was not found.", param="model",
                            code="model_not_found")
        return APIError(400, f"The requested model '{name}' is not supported with the Responses API.",
                        param="model", code="model_not_found")
    if endpoint == EMBEDDINGS:
        return APIError(403, "You are not allowed to generate embeddings from this model")
    what = {IMAGES: "image generation", RANKING: "ranking", MODERATIONS: "moderations",
            TEXT_GENERATION: "text generation"}.get(endpoint, endpoint)
    return APIError(400, f"The model '{name}' does not support {what}.", param="model")


@cache
def names() -> tuple[str, ...]:
    """The catalogs shipped: every provider folder with a models.yaml."""
    folders = resources.files(PROVIDERS_PACKAGE).iterdir()
    return tuple(sorted(d.name for d in folders if d.is_dir() and d.joinpath("models.yaml").is_file()))


@cache
def every_builtin() -> dict[str, ModelInfo]:
    """Every shipped catalog's models by id: what a scenario model with a known id inherits."""
    return {k: v for name in names() for k, v in builtin(name).items()}


@cache
def known_endpoints() -> frozenset[str]:
    """Every endpoint name a model may serve: OpenAI's kinds' and any a provider's models.yaml names
    (Gemini's `generate_content`, ...), so a scenario model may name them too."""
    return frozenset().union(*ENDPOINTS_BY_KIND.values(), *(m.endpoints for m in every_builtin().values()))


@cache
def builtin(name: str = BUILTIN) -> dict[str, ModelInfo]:
    """A provider's models from its models.yaml, by id, in the file's order (the order its model list shows)."""
    text = resources.files(PROVIDERS_PACKAGE).joinpath(name, "models.yaml").read_text("utf-8")
    data = yaml.load(text, Loader=_Loader)
    out: dict[str, ModelInfo] = {}
    for group in data["groups"]:
        for spec in group["models"]:
            info = from_spec({"owned_by": "system", **group.get("defaults", {}), **spec})
            out[info.id] = info
    return out


def shipped_in(model: ModelInfo) -> str | None:
    """The shipped catalog a scenario took this model from as it is (`catalog: NAME`), or None for one of the
    scenario's own `models:`, a shipped id it names included: each provider's model list lists its own
    catalog's models and the scenario's own, not another provider's."""
    for name in names():
        if builtin(name).get(model.id) is model:
            return name
    return None


def from_spec(spec: dict[str, Any], base: ModelInfo | None = None) -> ModelInfo:
    """A model from checked keys (a scenario's or models.yaml's), over `base` where one is given."""
    unknown = set(spec) - set(MODEL_KEYS)
    if unknown:
        raise ValueError(f"unknown model keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in MODEL_KEYS}
    values.update(spec)
    kind = values.get("kind", "chat")
    if "endpoints" not in spec and (base is None or "kind" in spec):
        values["endpoints"] = ENDPOINTS_BY_KIND[kind]
    values["endpoints"] = frozenset(values["endpoints"])
    values["aliases"] = tuple(values.get("aliases", ()))
    return ModelInfo(**values)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # our own file, still through a safe loader
