"""The planner's shortcuts give what the plain ways give: token pieces from the table of known token texts,
the refusal check as one pattern, a request's context copied field by field."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.context import Context
from simulator.generate import textgen, tokens
from simulator.generate.directive import Directive
from simulator.providers.openai import refusals
from simulator.scenario import file as scenarios
from simulator.scenario import moderation


def _plain_pieces(text: str, name: str) -> list[str]:
    """tokens.pieces as first written: each token's bytes decoded, a split character carried over."""
    enc = tokens.encoding(name)
    out, pending = [], b""
    for tok in enc.encode(text, disallowed_special=()):
        pending += enc.decode_single_token_bytes(tok)
        try:
            out.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            continue
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    return out


# Characters of one to four UTF-8 bytes (a token can end inside one), a special token's text, common words.
TEXTS = st.lists(st.sampled_from(list("ab cé日本語🎉\n\"'<|>") + ["<|endoftext|>", " the", "ünïcode", "✓"]),
                 max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.sampled_from(tokens.ENCODINGS))
def test_pieces_are_the_tokens_decoded_one_by_one(text: str, name: str) -> None:
    assert tokens.pieces(text, name) == _plain_pieces(text, name)
    assert tokens.pieces(text, name) == _plain_pieces(text, name)  # again, every token text known now


WORDS = ["how", "to", "do i", "can i", "make", "build", "a", "pipe", "bomb", "kill myself", "commit suicide",
         "synthesizing", "fentanyl", "meth", "sarin", "HOW", "MAKE", "Bomb", ".", "?", "the", "of", "cook meth",
         "steal", "you", "kill", "them", "ſynthesizing", "\u212aill myself", "hoW", "ıf", "x-how", "_make", "2bomb"]


CTX = Context(scenario=scenarios.load())


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.booleans(), st.booleans())
def test_refusal_is_what_the_moderation_policy_flags(words: list[str], own_rules: bool, builtin: bool) -> None:
    rules = [{"match": "(?i)steal", "categories": ["illicit"]}, {"match": "kill", "categories": ["illicit"],
             "score": 0.4}, {"match": "bomb", "categories": ["violence"]}] if own_rules else []
    policy = CTX.scenario.moderation = moderation.parse({"flag": rules, "builtin": builtin})
    prompt = " ".join(words)
    assert refusals.refuses(CTX, prompt) == bool(refusals.REFUSED & moderation.flagged(policy, prompt))


def test_the_built_in_refusal_pattern_looks_only_where_a_rule_can_start() -> None:
    """Every built-in rule starts `\\b` and a word from a known few letters: the combined pattern's lookahead for
    them; a rule of any other shape (the test above checks the answers either way) leaves the lookahead out."""
    assert refusals._BUILTIN.pattern.startswith("(?=(?i:[abchmpsw]))") and "how" in refusals._LEADS
    assert refusals.leads(r"(?i)\b(make|Build)\s+x|\bsuicid\w*|\bkill(ing)?|\ban?\b") == {"make", "build", "suicid",
                                                                                         "kill", "a"}
    for shape in (r"\b(ab|cd)?x", r"\bk?x", r"kill", r"\b(?:a|b)", r"\b[ab]x", r"\b(a|)x"):
        assert refusals.leads(shape) is None


def test_a_requests_context_is_the_servers_but_for_its_directive() -> None:
    ctx = Context(scenario=scenarios.load(), seed=3)
    ctx.marks, ctx.verdict, ctx.endpoints = object(), object(), ("POST /v1/x",)  # type: ignore[assignment]
    told = Directive(tokens=5)
    mine = ctx.for_request(told)
    assert type(mine) is Context and mine.directive is told
    assert all(getattr(mine, name) is getattr(ctx, name) for name in Context.__slots__  # type: ignore[attr-defined]
               if name != "directive")


LIST_WORDS = ["list", "LIST", "Name", "enumerate", "give me", "Suggest", "provide", "all", "every", "3", "ten", "top",
              "the", "ſuggest", "lıst", "colours", ".", "\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LIST_WORDS), max_size=10))
def test_a_lists_length_is_what_its_patterns_read(words: list[str]) -> None:
    """wanted_tokens rules an ASCII prompt without a list verb out before its patterns: the same lengths."""
    prompt = " ".join(words)
    counted = textgen._LIST_OF_N.search(prompt)
    items = (int(counted.group(1)) if counted.group(1).isdigit() else textgen._NUMBERS[counted.group(1).lower()]) \
        if counted else textgen.ALL_ITEMS if textgen._LIST_OF_ALL.search(prompt) else 0
    assert textgen.wanted_tokens(prompt, 40) == max(40, items * textgen.ITEM_TOKENS)
