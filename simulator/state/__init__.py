"""The state a client can observe (files, stored responses, rate limits), in memory or in Redis."""
