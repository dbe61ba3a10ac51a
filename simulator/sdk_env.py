"""The environment that points each provider's official SDK at a simctl server: one source for the pytest
plugin's `simctl_env` fixture and the banner `simctl replay` prints on start."""

from __future__ import annotations

DUMMY_KEY = "sk-simctl-test"  # any key works when the server requires none
API_VERSION = "2024-10-21"  # openai.AzureOpenAI needs one; every version simctl knows answers the same

# (the SDK, the variables it reads), in the order the banner lists them.
SDKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("OpenAI", ("OPENAI_BASE_URL", "OPENAI_API_KEY")),
    ("Anthropic", ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")),
    ("Azure OpenAI", ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION")),
    ("Gemini (google-genai)", ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY")),
    ("Bedrock (boto3)", ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                         "AWS_DEFAULT_REGION")),
    ("Ollama", ("OLLAMA_HOST",)),
)
KEYS = frozenset({"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY", "OLLAMA_API_KEY", "GEMINI_API_KEY",
                  "GOOGLE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})  # the ones that hold a key


def env_vars(url: str, key: str = DUMMY_KEY) -> dict[str, str]:
    """Every variable, for a server at `url` (http://host:port) and an API key."""
    # The anthropic SDK adds /v1/messages to ANTHROPIC_BASE_URL itself.
    return {"OPENAI_BASE_URL": url + "/v1", "OPENAI_API_BASE": url + "/v1",
            "OPENAI_API_KEY": key, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": key,
            # openai.AzureOpenAI reads these three (it adds /openai/deployments/... itself)
            "AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_API_KEY": key, "OPENAI_API_VERSION": API_VERSION,
            # the ollama client reads OLLAMA_HOST (and sends OLLAMA_API_KEY as a bearer key when set)
            "OLLAMA_HOST": url, "OLLAMA_API_KEY": key,
            # google-genai: the base URL (it adds /v1beta/models/... itself; google/genai/_base_url.py reads
            # GOOGLE_GEMINI_BASE_URL) and both key variables it reads
            "GOOGLE_GEMINI_BASE_URL": url, "GEMINI_API_KEY": key, "GOOGLE_API_KEY": key,
            # boto3 (bedrock-runtime): its service-specific endpoint variable and credentials it signs with
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url, "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": key, "AWS_DEFAULT_REGION": "us-east-1",
            "SIMCTL_URL": url}
