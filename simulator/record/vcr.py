"""VCR.py cassettes read into plain, typed exchanges.

Teams keep recorded LLM traffic as VCR.py cassettes (vcrpy, pytest-recording, pytest-vcr). This
module reads them, whatever serializer wrote them, into `Exchange`s: no vcrpy import, no object
construction from the file. What it reads:

- vcrpy's YAML serializer and its JSON serializer, plain or gzip-compressed (`.yaml.gz`, `.json.gz`,
  detected by the gzip magic bytes, not the name);
- bodies as a `string` (text), `!!binary` (bytes), `base64_string` (Ruby VCR's exact-bytes form),
  the `parsed_body` variant (a JSON body stored structured, as pydantic-ai's serializer writes it),
  and the legacy httpx form (`status_code` and `content`);
- Ruby VCR's cassettes too (`http_interactions`, `recorded_at`, psych's `!binary`): the same format
  family, and where much public recorded OpenAI traffic is;
- compressed bodies (gzip, deflate, br, zstd) decoded by their `content-encoding`, so the body is
  what a client reads; the header is then dropped from the exchange's headers (kept in
  `content_encoding`), as a body and a header that disagree would mislead whoever replays it.

Untrusted files: a safe loader that knows one extra tag, `!!binary` (any other tag, `!!python/...`
included, is refused with its line), the alias-bomb guard, a size bound on the file and on what a
gzip file inflates to. Problems are `FILE:LINE:COLUMN: what`.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import yaml

from .. import yamlguard
from ..errors import ConfigError
from .vcr_interaction import Bad, Exchange, Headers, interaction

__all__ = ["Exchange", "Exchanges", "Headers", "is_vcr", "load", "loads"]

MAX_FILE_BYTES = 512 * 1024 * 1024  # as simulator.cassettes.load: on disk, and once a .gz file is inflated

_Base = yamlguard.LOADER


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """A safe loader; `!!binary` is the only tag beyond plain data that cassettes need."""


_Loader.add_constructor("tag:yaml.org,2002:binary", yaml.SafeLoader.construct_yaml_binary)
_Loader.add_constructor("!binary", yaml.SafeLoader.construct_yaml_binary)  # Ruby's (psych) spelling of it


def is_vcr(raw: bytes) -> bool:
    """Whether bytes look like a VCR.py cassette (a cheap look at the start, for format detection)."""
    try:
        raw = _gunzip(raw, "") if raw[:2] == b"\x1f\x8b" else raw
    except ConfigError:
        return False
    head = raw[:65536].decode("utf-8", "replace")
    return "interactions" in head and ("request" in head or "uri" in head)  # http_interactions too


def load(path: str | Path, fmt: str | None = None) -> list[Exchange]:
    """Read a cassette file. `fmt` ("yaml" or "json") forces the serializer; else it is detected."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return loads(raw, str(path), fmt)


def loads(raw: bytes | str, source: str = "<memory>", fmt: str | None = None) -> list[Exchange]:
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(raw, source)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{source}:{_line_at(raw, e.start)}: not UTF-8 text ({e.reason})") from None
    else:
        text = raw
    if fmt not in (None, "yaml", "json"):
        raise ConfigError(f"{source}: unknown VCR format {fmt!r} (yaml or json)")
    if fmt == "json" or (fmt is None and text.lstrip()[:1] == "{"):
        return _from_json(text, source)
    return _from_yaml(text, source)


def _gunzip(raw: bytes, source: str) -> bytes:
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, MAX_FILE_BYTES + 1)
    except zlib.error as e:
        raise ConfigError(f"{source}: not a valid gzip file: {e}") from None
    if len(out) > MAX_FILE_BYTES:
        raise ConfigError(f"{source}: inflates to more than {MAX_FILE_BYTES} bytes")
    if not d.eof:
        raise ConfigError(f"{source}: not a valid gzip file: truncated")
    return out


def _line_at(raw: bytes, offset: int) -> str:
    before = raw[:offset]
    return f"{before.count(b'\n') + 1}:{offset - before.rfind(b'\n')}"


def _from_json(text: str, source: str) -> list[Exchange]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return _exchanges(data, text, source, None)


def _from_yaml(text: str, source: str) -> list[Exchange]:
    if "&" in text:
        yamlguard.check(text, source)  # alias bombs
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        if "could not determine a constructor" in problem:
            problem = f"unsupported YAML tag {problem.split('tag ', 1)[-1]} (only !!binary is read)"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    return _exchanges(data, text, source, node)


class Exchanges(list[Exchange]):
    """A cassette's exchanges in file order; `extra` holds the file's other top-level keys (`version`,
    vcrpy's `metadata`, simctl's export extension)."""

    def __init__(self, items: list[Exchange], extra: dict[str, Any]) -> None:
        super().__init__(items)
        self.extra = extra


def _exchanges(data: Any, text: str, source: str, node: yaml.Node | None) -> list[Exchange]:
    try:
        key = next((k for k in _KEYS if isinstance(data, dict) and isinstance(data.get(k), list)), None)
        if key is None:
            raise Bad((), "not a VCR.py cassette (no `interactions` list at the top)")
        lines = _item_lines(node, key)
        return Exchanges([interaction(key, n, item, lines[n] if n < len(lines) else None)
                          for n, item in enumerate(data[key])], {k: v for k, v in data.items() if k != key})
    except Bad as e:
        where = _where(node if node is not None else _compose_quietly(text), e.path)
        key = ".".join(map(str, e.path))
        raise ConfigError(f"{source}:{where}: {key + ': ' if key else ''}{e.what}") from None


_KEYS = ("interactions", "http_interactions")  # vcrpy, Ruby VCR


def _item_lines(node: yaml.Node | None, key: str) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    seq = next((v for k, v in node.value if k.value == key), None)
    return [item.start_mark.line + 1 for item in seq.value] if isinstance(seq, yaml.SequenceNode) else []


def _compose_quietly(text: str) -> yaml.Node | None:
    """JSON files are parsed with json (faster, exact); their positions come from YAML, which reads
    vcrpy's JSON, only when there is an error to place."""
    try:
        return yaml.compose(text, Loader=_Base)
    except yaml.YAMLError:
        return None


def _where(node: yaml.Node | None, path: tuple[Any, ...]) -> str:
    node = yamlguard.node_at(node, path) or node
    return "1:1" if node is None else f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"
