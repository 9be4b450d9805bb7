"""The weekly rhythm: check-ins, streaks, activity and the weekly schedule."""
