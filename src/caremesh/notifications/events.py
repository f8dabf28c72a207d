"""Notifications publishes no integration events: a message's fate is read from `GET /notifications`."""
