"""`np.random.default_rng(seed).integers(n)`, draw for draw, in plain Python.

Composing a reply from a fresh seed (textgen) takes a handful of small draws; numpy's seeding (SeedSequence
and PCG64's set-up: ~14 us) and its per-call overhead (~2 us a draw) cost more than the arithmetic itself, and
every new request body has a new seed. This is numpy's own algorithm written out (numpy/random/bit_generator.pyx:
SeedSequence's mix_entropy and generate_state; pcg64.h: the XSL-RR 128/64 generator with its 32-bit halves;
distributions.c: Lemire's bounded draw), checked against numpy for many seeds and bounds
(tests/generate/test_pcg.py): the same seed gives the same numbers, so replies are unchanged.
"""

from __future__ import annotations

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
M128 = (1 << 128) - 1
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341


def _hash_consts(init: int, mult: int, count: int) -> list[tuple[int, int]]:
    """The (xor, multiplier) pair of each of `count` hashmix steps: the hash constant before and after its
    multiplication. It runs the same for every seed, so it is worked out once."""
    out = []
    for _ in range(count):
        after = (init * mult) & M32
        out.append((init, after))
        init = after
    return out


# A seed of up to four 32-bit words: 4 hashmix steps fill the pool, 12 mix it (each word into each other
# word: source, destination); generate_state(4, uint64) takes 8 more steps over the pool.
_STEPS = _hash_consts(_INIT_A, _MULT_A, _POOL + 12)
_FILL = tuple(_STEPS[:_POOL])
_MIX = tuple((src, dst, x, m) for (src, dst), (x, m) in
             zip([(s, d) for s in range(_POOL) for d in range(_POOL) if s != d], _STEPS[_POOL:], strict=True))
_GENERATE = tuple((i % _POOL, x, m) for i, (x, m) in enumerate(_hash_consts(_INIT_B, _MULT_B, 8)))


def _seeded(seed: int) -> tuple[int, int]:
    """PCG64's 128-bit initial state and sequence from SeedSequence(seed) (`seed` below 2**128)."""
    pool = []
    for x, m in _FILL:  # the seed's words, least significant first; missing ones are 0
        value = (((seed & M32) ^ x) * m) & M32
        pool.append(value ^ (value >> 16))
        seed >>= 32
    for src, dst, x, m in _MIX:
        value = ((pool[src] ^ x) * m) & M32
        mixed = (_MIX_L * pool[dst] - _MIX_R * (value ^ (value >> 16))) & M32
        pool[dst] = mixed ^ (mixed >> 16)
    w = []
    for src, x, m in _GENERATE:
        value = ((pool[src] ^ x) * m) & M32
        w.append(value ^ (value >> 16))
    # four 64-bit words, two 32-bit halves each (little end first): state high, state low, sequence high, low
    return ((w[0] | w[1] << 32) << 64) | w[2] | w[3] << 32, ((w[4] | w[5] << 32) << 64) | w[6] | w[7] << 32


class Pcg64:
    """What `np.random.default_rng(seed)` draws with `integers(n)` (an int seed, a scalar bound below 2**32)."""

    __slots__ = ("_half", "_inc", "_state")

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 1 << 128:
            raise ValueError("Pcg64 takes an int seed in 0 .. 2**128 - 1")
        initstate, initseq = _seeded(seed)
        self._inc = ((initseq << 1) | 1) & M128
        state = self._inc  # 0 * mult + inc: the first step from a zero state
        state = (((state + initstate) & M128) * _PCG_MULT + self._inc) & M128
        self._state = state
        self._half: int | None = None  # the upper 32 bits of the last 64-bit draw, not yet used

    def _next64(self) -> int:
        state = self._state = (self._state * _PCG_MULT + self._inc) & M128
        value = ((state >> 64) ^ state) & M64
        rot = state >> 122
        return ((value >> rot) | (value << ((-rot) & 63))) & M64

    def _next32(self) -> int:
        half = self._half
        if half is not None:
            self._half = None
            return half
        value = self._next64()
        self._half = value >> 32
        return value & M32

    def integers(self, high: int) -> int:
        """A number in [0, high), as Generator.integers(high) gives it (Lemire's method on 32 bits)."""
        if not 0 < high <= 1 << 32:
            raise ValueError("Pcg64.integers takes a bound in 1 .. 2**32")
        rng = high - 1
        if rng == 0:
            return 0
        if rng == M32:
            return self._next32()
        m = self._next32() * high
        leftover = m & M32
        if leftover < high:
            threshold = (M32 - rng) % high
            while leftover < threshold:
                m = self._next32() * high
                leftover = m & M32
        return m >> 32
