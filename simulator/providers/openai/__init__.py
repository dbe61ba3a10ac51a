"""OpenAI's API (and the OpenAI-compatible servers simctl emulates): routes and planners."""
