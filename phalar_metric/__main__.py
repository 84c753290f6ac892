"""`python -m phalar_metric`: the `phalar` command."""

import sys

from .cli import main

sys.exit(main())
