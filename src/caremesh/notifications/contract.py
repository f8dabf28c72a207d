"""What other contexts may use of notifications: nothing yet. Messages follow from the events other
contexts publish (see triggers.EVENT_KINDS); no context calls notifications directly."""
