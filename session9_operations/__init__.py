"""Session 9: running the queue for other people.

Rate limits per task type shared by every worker (ratelimit.py, ratelimit.lua),
webhooks with signatures and an allow-list (webhooks.py), an autoscaler on backlog
and age (autoscale.py), alerting rules tested with promtool (alerts/), a per-client
budget on session 6's API (api_limits.py) and bulk e-mail through SMTP (mail.py).

Built on session 5's queue and worker and session 6's app, imported, never copied.
"""
