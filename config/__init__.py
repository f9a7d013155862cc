"""Configuration: settings from the environment and the CTDE YAML config."""
