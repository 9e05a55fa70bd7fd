"""The variants session 6 teaches with, beside the service and never part of it.

- dual_write.py: the naive producers (two writes, killed between them) and the
  outbox producer, for demos/demo_dual_write.py and the outbox tests;
- in_request.py: ``POST /bench/in-request``, the image work done inside the
  request, mounted only when ``ApiConfig.in_request_route`` is set;
- bench.py: ``python -m session6_api.teaching.bench``, the two variants measured
  in one run.
"""
