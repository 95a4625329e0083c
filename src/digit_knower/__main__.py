"""`python -m digit_knower`: the `digit-knower` command, for when the script is not on PATH."""

import sys

from digit_knower.cli import main

sys.exit(main())
