"""What other contexts may use of notifications: nothing yet. Messages follow from the events other
contexts publish (see service.EVENT_KINDS); no context calls notifications directly."""
