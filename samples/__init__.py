"""Sample utterances (espeak-ng, `scripts/make_samples.sh`): installed as the package data `golemline.samples`,
the workload of `golem bench` and the load generator (see golemline/resources.py)."""
