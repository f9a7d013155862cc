"""The contract-combat simulator: packs of monsters that see exactly the state contract's 64
floats (plpython/state_contract.py) and act through the game server's ten actions, against parties
of scripted players (docs/contract_combat.md). Modules: `world` (map, items, skill units, the game
server's constants), `units` (monsters, players, drawing them), `encode` (the 64 floats),
`execute` (the ten actions, walking), `traditional` (rAthena's own AI as the ten actions), `env`
(`ContractCombatEnv`)."""
