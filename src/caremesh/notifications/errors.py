"""The errors of notifications."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class NotificationNotFound(NotFound):
    code, title = "NOTIFICATION_NOT_FOUND", "Notification not found"


class TemplateNotFound(NotFound):
    code, title = "TEMPLATE_NOT_FOUND", "Notification template not found"
