"""Experience storage: recorded pack episodes (`pack_episodes`), read from and written to the
database in the layout the game server records."""
