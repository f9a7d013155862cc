"""Neural networks: the seed's CTDE networks (`ctde`)."""
