"""What other contexts may use of notifications: nothing yet. Messages follow from the events other
contexts publish (see triggers.KIND_EVENTS, and published.py for templates added for any other event); no
context calls notifications directly."""
