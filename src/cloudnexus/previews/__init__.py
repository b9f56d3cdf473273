"""Image previews (derived objects made on first request) and content sniffing."""
