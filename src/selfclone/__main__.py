"""`python -m selfclone ...`: the same command line as the `selfclone` script (what launchers run:
`accelerate launch -m selfclone train DATA.jsonl`, and how servers start their child processes)."""
import sys

from .cli import main

sys.exit(main())
