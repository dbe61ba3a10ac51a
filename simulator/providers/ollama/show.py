"""POST /api/show: a model's card (template, parameters, details, model_info, tensors, capabilities).

The keys and their order are the recorded ones (crewAI's answers, 2025); the architecture's numbers
(layers, heads, widths) are those of a model of that size in the GGUF's `<arch>.*` keys, and the
tensor table lists each layer's weights, as a client inspecting a model finds them.
"""

from __future__ import annotations

from typing import Any

from ...api.context import Context
from ...plan import ResponsePlan, dumps
from ...scenario.catalog import ModelInfo
from . import checks
from .info import DEFAULT_MODIFIED, details, embedding_length, parameters, shape
from .wire import JSON_TYPE

_BLOCK = ("attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_norm", "ffn_up")
CHAT_TEMPLATE = ("{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>\n{{- end }}"
                 "<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n")
STOPS = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def show(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = checks.model_name(body, "ShowRequest")
    model = checks.find(ctx, name)
    d = details(model)
    arch = d["family"].replace("-", "_")
    count = parameters(d["parameter_size"])
    width, blocks, heads, kv, ff = shape(count)
    embedding = model.kind == "embedding"
    if embedding:
        width = embedding_length(model)
    info: dict[str, Any] = {
        "general.architecture": arch, "general.basename": model.id.split(":")[0], "general.file_type": 15,
        "general.finetune": "" if embedding else "Instruct", "general.parameter_count": count,
        "general.quantization_version": 2, "general.size_label": d["parameter_size"], "general.type": "model",
        f"{arch}.attention.head_count": heads, f"{arch}.attention.head_count_kv": kv,
        f"{arch}.attention.key_length": width // heads, f"{arch}.attention.value_length": width // heads,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-05, f"{arch}.block_count": blocks,
        f"{arch}.context_length": model.context_window, f"{arch}.embedding_length": width,
        f"{arch}.feed_forward_length": ff, f"{arch}.rope.dimension_count": width // heads,
        f"{arch}.rope.freq_base": 500000, f"{arch}.vocab_size": 128256,
        "tokenizer.ggml.bos_token_id": 128000, "tokenizer.ggml.eos_token_id": 128009, "tokenizer.ggml.merges": None,
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe", "tokenizer.ggml.token_type": None,
        "tokenizer.ggml.tokens": None,
    }
    given = model.meta.get("model_info")  # the GGUF's own general.* keys (languages, tags, license), as listed
    if isinstance(given, dict):
        info.update({f"general.{k}": v for k, v in given.items()})
        info = dict(sorted(info.items()))  # Ollama lists model_info's keys sorted
    template = "{{ .Prompt }}" if embedding else CHAT_TEMPLATE
    params = "" if embedding else "\n".join(f'stop{" " * 27}"{s}"' for s in STOPS)
    out = {
        "license": str(model.meta.get("license") or _license(d["family"])),
        "modelfile": _modelfile(model, template, params),
        "parameters": params,
        "template": template,
        "details": d,
        "model_info": info,
        "tensors": _tensors(blocks, width, ff, kv * (width // heads), d["quantization_level"]),
        "capabilities": checks.capabilities(model),
        "modified_at": str(model.meta.get("modified_at", DEFAULT_MODIFIED)),
    }
    out = {k: v for k, v in out.items() if v != "" or k == "template"}  # parameters: omitempty
    return ResponsePlan(body=dumps(out), media_type=JSON_TYPE, model=name)




def _tensors(blocks: int, width: int, ff: int, kv_width: int, quant: str) -> list[dict[str, Any]]:
    kind = "F16" if quant == "F16" else "Q4_K"
    shapes = {"attn_k": [width, kv_width], "attn_norm": [width], "attn_output": [width, width],
              "attn_q": [width, width], "attn_v": [width, kv_width], "ffn_down": [ff, width],
              "ffn_gate": [width, ff], "ffn_norm": [width], "ffn_up": [width, ff]}
    out = [{"name": f"blk.{i}.{t}.weight", "type": "F32" if t.endswith("norm") else kind, "shape": shapes[t]}
           for i in range(blocks) for t in _BLOCK]
    out += [{"name": "output_norm.weight", "type": "F32", "shape": [width]},
            {"name": "token_embd.weight", "type": kind, "shape": [width, 128256]}]
    return out


def _license(family: str) -> str:
    """The first lines of the licence the library's models of this family ship with."""
    if family.startswith("llama"):
        return "LLAMA 3 COMMUNITY LICENSE AGREEMENT\nMeta Llama 3 Version Release Date: April 18, 2024\n"
    if family.startswith("gemma"):
        return "Gemma Terms of Use\n\nLast modified: March 24, 2025\n"
    if family.startswith("phi"):
        return "Microsoft.\nCopyright (c) Microsoft Corporation.\n\nMIT License\n"
    return "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n"


def _modelfile(model: ModelInfo, template: str, params: str) -> str:
    lines = ['# Modelfile generated by "ollama show"', "# To build a new Modelfile based on this, replace FROM with:",
             f"# FROM {model.id}", "", f"FROM {model.id}", f'TEMPLATE """{template}"""']
    lines += [f"PARAMETER {p.split(None, 1)[0]} {p.split(None, 1)[1]}" for p in params.splitlines()]
    return "\n".join(lines) + "\n"
