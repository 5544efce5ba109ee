"""`python -m selfclone ...`: the same command line as the `selfclone` script (and what launchers run:
`accelerate launch -m selfclone train DATA.jsonl`)."""
import sys

from .cli import main

sys.exit(main())
