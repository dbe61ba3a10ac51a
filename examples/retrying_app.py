"""An app with retries, and how to test it against the chaos presets.

    simctl replay --scenario flaky --seed 1 --fail-on-verdict &
    python examples/retrying_app.py
    kill %1; wait %1   # exit 3 if the verdict found misbehaviour (e.g. ignoring retry-after)
"""

import os

from openai import OpenAI

# The SDK retries 429, 5xx and broken connections with exponential backoff and honours retry-after.
client = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"), api_key="anything",
                max_retries=4, timeout=10)

ok = failed = 0
for n in range(50):
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {n}"}])
        ok += 1
    except Exception as e:  # noqa: BLE001 - an example: count what got through
        failed += 1
        print("gave up:", type(e).__name__)
print(f"{ok} answered, {failed} failed")
