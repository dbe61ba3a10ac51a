"""The Gemini API (Google AI, generativelanguage.googleapis.com): routes, planners, wire, errors, models."""
