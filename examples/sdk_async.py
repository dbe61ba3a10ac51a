"""The async SDK, streaming, against `simctl replay`."""

import asyncio

from openai import AsyncOpenAI


async def main() -> None:
    client = AsyncOpenAI(base_url="http://127.0.0.1:8000/v1", api_key="anything")
    stream = await client.chat.completions.create(model="gpt-4o", stream=True,
                                                  messages=[{"role": "user", "content": "Count to five"}])
    async for chunk in stream:
        if chunk.choices:
            print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()


asyncio.run(main())
