"""The models a simulated service has, their aliases, and which endpoints each serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import APIError, model_not_found

# Endpoint names used by the API modules when they ask whether a model serves them.
CHAT, COMPLETIONS, EMBEDDINGS, IMAGES, RESPONSES, TEXT_GENERATION, RANKING = (
    "chat", "completions", "embeddings", "images", "responses", "text_generation", "ranking",
)

ENDPOINTS_BY_KIND: dict[str, frozenset[str]] = {
    "chat": frozenset({CHAT, RESPONSES, TEXT_GENERATION}),
    "reasoning": frozenset({CHAT, RESPONSES, TEXT_GENERATION}),
    "completion": frozenset({COMPLETIONS, TEXT_GENERATION}),
    "embedding": frozenset({EMBEDDINGS}),
    "image": frozenset({IMAGES}),
    "rerank": frozenset({RANKING}),
}


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

    @property
    def reasoning(self) -> bool:
        return self.kind == "reasoning"

    def card(self) -> dict[str, object]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}


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
            raise model_not_found(name)
        if endpoint not in model.endpoints:
            raise wrong_endpoint(model, endpoint, name)
        return model


def wrong_endpoint(model: ModelInfo, endpoint: str, name: str) -> APIError:
    if endpoint == CHAT:
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
        return APIError(400, f"The requested model '{name}' is not supported with the Responses API.",
                        param="model", code="model_not_found")
    what = {EMBEDDINGS: "embeddings", IMAGES: "image generation", RANKING: "ranking",
            TEXT_GENERATION: "text generation"}.get(endpoint, endpoint)
    return APIError(400, f"The model '{name}' does not support {what}.", param="model")
