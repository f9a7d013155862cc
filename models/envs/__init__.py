"""Multi-agent environments: the generic interface (`base`), the pack-combat simulator
(`pack_combat`) and PettingZoo parallel environments (`pettingzoo`)."""
