"""`golem plan`: measured service times and memory in, the cheapest layout that meets a p95 objective out.

  profiles   per-golem service-time curves and memory, from `golem bench` JSON or a live Prometheus
  prices     the device price table (whole GPUs, MIG slices, CPU nodes), editable
  queueing   the M/D/c station with dynamic batching: utilisation, waiting time, p95
  layouts    monolith / split / MIG candidates, replicas, $/hour and $/1k requests, the chart values they need
"""
