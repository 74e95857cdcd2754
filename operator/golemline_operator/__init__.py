"""GolemPipeline operator (kopf): reconciles the pipeline CRD into KServe InferenceServices.

A distribution of its own (`golemline-operator`): it needs kopf and the official kubernetes client, not torch, so
its image stays small.
It shares no code with the golemline runtime; the contract between them is the `GOLEM_*` environment the builders
write, whose names follow the runtime's settings fields (tests/test_config_surfaces.py checks that they agree).
"""

GOLEMS = ("scribe", "interpreter", "oracle")
