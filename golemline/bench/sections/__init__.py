"""`golem bench`'s sections, one module per theme (`golemline.bench.suite` names them and runs them)."""
