"""What session 6's tests, bench and demos need to run the service, not part of it.

- livetest.py: a live ``python -m session6_api serve`` in a child process;
- dashboard_testing.py: the system Chromium for the browser tests, and
  bulk-filling the database and Redis with completed tasks.
"""
