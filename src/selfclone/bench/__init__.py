"""Every benchmark, and the `selfclone bench` group (commands.py): measured figures with a baseline from the same run."""
