"""The foundation every layer builds on: task and suite specs, the registries, the results
schema, paths, errors, the compute identity and seeding. Imports nothing above it."""
