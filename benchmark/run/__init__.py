"""One run and a grid of runs: the teacher and its noise, the oracle's round state, training,
the round loop, and the local and Ray executors. Imports core, data and models."""
