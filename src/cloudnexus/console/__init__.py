"""The web console: static files served at /console, read from the package when asked for."""
