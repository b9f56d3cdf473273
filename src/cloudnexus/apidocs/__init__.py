"""/docs: Swagger UI from the installed packages, so it renders offline and under a CSP."""
