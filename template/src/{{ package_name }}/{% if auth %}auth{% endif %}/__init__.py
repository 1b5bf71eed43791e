"""Users and authentication: registration, the OAuth2 password flow with access and refresh
JWTs, refresh-token rotation with reuse detection, roles and scopes, login rate limits."""
