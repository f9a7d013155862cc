"""The pack-combat simulator: monsters in packs of 2-5 against parties of adventurers
(docs/simulator.md). `simulator` is the environment; the other modules are its rules."""
