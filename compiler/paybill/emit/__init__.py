"""Stage 4, emit: turn the validated index (and its graph) into output files, in memory.

Emitters never touch the disk: each returns a mapping of output-relative paths to bytes, and the
write stage swaps the whole tree in atomically. That keeps compile deterministic and testable.
"""
