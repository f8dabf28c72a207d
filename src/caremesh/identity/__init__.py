"""Identity: users, roles, sessions, rotating refresh tokens, lockout and password policy."""
