"""How long a generated reply is: the scenario's length, or the list the prompt asks for."""

from __future__ import annotations

import pytest

from simulator.generate import textgen
from simulator.generate.directive import NONE
from simulator.rng import LazyRng


@pytest.mark.parametrize(("prompt", "tokens"), [
    ("Tell me about AI", 40),
    ("List all U.S. states.", textgen.ALL_ITEMS * textgen.ITEM_TOKENS),  # Mirascope's test_max_tokens prompt
    ("name every planet", textgen.ALL_ITEMS * textgen.ITEM_TOKENS),
    ("List the top 20 movies of 2020", 20 * textgen.ITEM_TOKENS),
    ("Give me twelve names for a cat", 12 * textgen.ITEM_TOKENS),
    ("list 2 colours", 40),  # a short list fits the scenario's length
])
def test_a_list_is_as_long_as_asked(prompt: str, tokens: int) -> None:
    assert textgen.wanted_tokens(prompt, 40) == tokens


def test_a_small_limit_cuts_a_long_list() -> None:
    gen = textgen.generate(LazyRng(1), "List all U.S. states.", 40, max_tokens=50, told=NONE)
    assert gen.finish_reason == "length" and len(gen.pieces) == 50
    whole = textgen.generate(LazyRng(1), "List all U.S. states.", 40, told=NONE)
    assert whole.finish_reason == "stop" and len(whole.pieces) >= textgen.ALL_ITEMS * textgen.ITEM_TOKENS
