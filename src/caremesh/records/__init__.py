"""Medical records: diagnoses, allergies, vital signs, notes and procedures, amended as versions, never overwritten."""
