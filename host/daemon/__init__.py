"""The daemon: flows on their schedules, webhooks, and what a dashboard needs."""
