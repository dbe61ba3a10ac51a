"""The server: a request from the socket to its plan and back to the socket, and what a run saw."""
