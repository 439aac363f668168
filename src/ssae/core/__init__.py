"""Configuration, paths, artifacts on disk and the runtime: what every other package builds on."""
