"""The seed's import path of the episode buffer (`from models.pack_episode_buffer import
PackEpisodeBuffer`): the buffer lives in models/buffers/pack_episodes.py."""

from models.buffers.pack_episodes import PackEpisode, PackEpisodeBuffer

__all__ = ["PackEpisode", "PackEpisodeBuffer"]
