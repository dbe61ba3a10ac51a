"""Recording: the mitmproxy addon, record-new's forwarding, imports and exports, the drift check."""
