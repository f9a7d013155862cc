"""Training algorithms, one readable module each: `mappo` (PPO with a centralized critic)."""
