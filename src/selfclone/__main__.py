"""`python -m selfclone ...`: the same as the `selfclone` command (servers start their child processes this way)."""
import sys

from .cli import main

sys.exit(main())
