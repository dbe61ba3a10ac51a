"""Context: what every API module needs to turn a request into a ResponsePlan."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .. import ids
from ..config import DEFAULT_MAX_BODY
from ..generate.directive import NONE, Directive
from ..plan import dumps
from ..rng import LazyRng
from ..scenario.catalog import Catalog
from ..scenario.file import Scenario
from ..server_state import ServerState
from ..state.store import MemoryStore, Store


class Report(Protocol):
    """What the service routes show of the run (the verdict): a JSON-ready report."""

    def report(self) -> dict[str, Any]: ...


class Rendered(Protocol):
    """What /metrics serves (the Prometheus registry), rendered as text."""

    def render(self) -> bytes: ...


@dataclass(slots=True)
class Context:
    scenario: Scenario
    seed: int | None = None
    state: ServerState = field(default_factory=ServerState)
    catalog: Catalog = field(init=False)
    max_body_bytes: int = DEFAULT_MAX_BODY  # the one body limit (--max-body), for planners that read a body again
    endpoints: tuple[str, ...] = ()  # "METHOD /path" of every route served, for the service routes
    verdict: Report | None = None  # set by the server
    metrics: Rendered | None = None  # set by the server
    directive: Directive = NONE  # what the matched rule asks of the generator, on a request's own copy
    # A provider's own state for this server's life (a cache, a meter), under keys the provider names.
    provider_state: dict[str, Any] = field(default_factory=dict)
    # Where files, stored responses, buckets and the like live: this process, or Redis (set by the server).
    store: Store = field(init=False)
    # While a whole answer is made into a template (serve/memo.py): ids and times it can find again.
    marks: Any = None

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.scenario.models)
        self.store = MemoryStore(self.state)

    def for_request(self, directive: Directive) -> Context:
        """This server's context for one request: the same scenario, store and state, its own directive."""
        # Field by field (every request makes one): copy.copy's reduce protocol cost ten times as much.
        # tests/generate/test_shortcuts.py checks that every field is here.
        mine = object.__new__(type(self))
        mine.scenario, mine.seed, mine.state, mine.catalog = self.scenario, self.seed, self.state, self.catalog
        mine.max_body_bytes, mine.endpoints, mine.verdict = self.max_body_bytes, self.endpoints, self.verdict
        mine.metrics, mine.provider_state, mine.store, mine.marks = (self.metrics, self.provider_state, self.store,
                                                                     self.marks)
        mine.directive = directive
        return mine

    def set_scenario(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.catalog = Catalog(scenario.models)

    def rng(self, *parts: Any) -> np.random.Generator:
        """A generator fixed by the server seed and the given parts (usually the request body).

        The same seed and request give the same reply; with no server seed, the request alone decides,
        so a reply is still stable across runs (as a test author expects).
        """
        digest = hashlib.sha256(dumps([self.seed, *parts])).digest()
        return LazyRng(int.from_bytes(digest[:16], "little"))  # type: ignore[return-value]

    def new_id(self, prefix: str, size: int = 24) -> str:
        return prefix + (ids.token(size) if self.marks is None else self.marks.token(size))

    def new_base58_id(self, prefix: str, size: int) -> str:
        """An id in base58 (Anthropic's `msg_01...`, `toolu_01...`), marked as `new_id` is."""
        return prefix + (ids.base58(size) if self.marks is None else self.marks.token(size, "b58"))

    def keeps(self) -> None:
        """This answer reads or changes what the store keeps (a prompt cache): it is never memoised."""
        if self.marks is not None:
            self.marks.kept = True

    def now(self) -> int:
        return int(time.time()) if self.marks is None else int(self.marks.now())

    def padding(self, size: int) -> str:
        """`size` random letters and digits that pad a stream's event (OpenAI's `obfuscation`). Marked while a
        stream is made into a template (serve/stream_memo.py); a whole answer's marks have no `pad`, so padding
        there stays random and its template fails the second plan's check."""
        pad = getattr(self.marks, "pad", None)
        return ids.token(size) if pad is None else str(pad(size))

    def fingerprint(self, model: str) -> str:
        found = _FINGERPRINTS.get(model)
        if found is None:
            if len(_FINGERPRINTS) >= 1024:
                _FINGERPRINTS.clear()
            found = _FINGERPRINTS[model] = "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]
        return found


_FINGERPRINTS: dict[str, str] = {}  # by model: a hash per answer was a few per cent of planning a short one

