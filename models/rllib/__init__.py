"""Ray RLlib inside the product: the contract simulator as an RLlib multi-agent environment, RLlib's
algorithms registered in ALGORITHMS beside the in-house ones, and Ray where training runs
(docs/ray.md)."""
