"""The official SDK against `simctl replay` (start it first: `simctl replay`)."""

from openai import OpenAI

client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="anything")
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
print(reply.choices[0].message.content)
for chunk in client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                            messages=[{"role": "user", "content": "Stream, please"}]):
    print(chunk.choices[0].delta.content or "", end="", flush=True) if chunk.choices else None
print()
print(client.embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding[:4])
print(client.responses.create(model="gpt-4.1-mini", input="Hi there").output_text)
