"""Benchmark harness of the payments service: ``uv run python -m bench``.

See docs/performance.md. Where things are:

- a run: ``cli`` (entry) → ``options`` (flags, ``--quick`` defaults) → ``run``
  (the phases in order) → ``results`` (the .md, .png; ``report``, ``plot``);
- the phases: ``ceilings`` (pgbench, ``GET /health`` at full speed), ``sweep``
  (deposit rates), ``profile_step`` (py-spy; summaries in ``profile``),
  ``callbacks`` (the signed callback burst); ``ratios`` reads them together;
- one step: ``harness`` (load generator process, live line), ``costs`` (CPU,
  memory, commits), ``settling`` (every deposit final, stack recovered),
  ``steps`` (a step's numbers), ``templates`` (the requests);
- the stack: ``stack`` (start/stop) with ``database``, ``kafka``,
  ``processes``, ``credentials``, ``control``;
- the load generator: ``loadgen`` (``python -m bench.loadgen``), ``loadspec``,
  ``connection``, ``recording``;
- side benchmarks: ``apply_rate``, ``service_profile``.
"""
