"""caremesh: an event-driven hospital platform."""
