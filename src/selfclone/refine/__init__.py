"""Preference refinement: ranking the clone's candidates, preference pairs from the rankings, refine rounds."""
