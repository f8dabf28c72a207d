"""Integration events of identity."""

# Carries the one-time reset token for the notifications context to deliver; never logged.
PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
