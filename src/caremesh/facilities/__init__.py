"""Facilities, their departments and the personnel who are not practitioners (nurses, pharmacists, clerks, ...)."""
