"""`python -m archsearch` is the `archsearch` command."""

import sys

from archsearch.cli import main

sys.exit(main())
