"""``python -m ocosim_tradeengine``: see :mod:`ocosim_tradeengine.cli`."""

import sys

from ocosim_tradeengine.cli import main

if __name__ == "__main__":
    sys.exit(main())
