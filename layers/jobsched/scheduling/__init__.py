"""Scheduling: schedule expressions, pause/resume and status, schedule-sync."""
