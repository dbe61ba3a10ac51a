"""What the simulated model says: text, JSON from schemas, tool calls, images, token counts."""
