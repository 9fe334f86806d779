"""Run a user's checkout of the real live engine ``petrosa-tradeengine`` against ``sim serve``.

The launcher (``python -m ocosim_tradeengine`` or ``ocosim-tradeengine``) imports the engine
from the folder given with ``--engine`` without changing or installing anything there, points
its python-binance client at the loopback server, stubs the infrastructure the engine cannot run
without (MongoDB lock, ``tradeengine.api``, the data-manager), runs the engine's own
``Dispatcher`` under the server's lockstep clock and delivers the scenario's signals and manual
closes at their venue times. Modules:

- ``scenario``: the scenario's resolved inputs (``sim signals``) and the engine's ``Signal``;
- ``harness``: the ``/sim/v1`` control endpoints (clock, advance, stop) over plain HTTP;
- ``clock``: the lockstep event loop, the wall clock and the loopback-only network guard;
- ``engine``: environment, URL patches and stubs per engine release;
- ``cli``: the command line and the run itself.
"""

__version__ = "0.1.0"
