"""Capacity booking shared by the order saga's participants that book catalogue entries on clinic days (lab tests,
imaging studies): the pure rules (`rules`), the columns of their tables (`models`) and the saga's three steps plus
finishing a booking (`booking`). What each books, what finishing it records and the events it answers with stay in
the participant's own package."""
