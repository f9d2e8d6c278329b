"""A sirenkit plugin: the signal kind ``curve`` (samples of y = f(x) from a two-column CSV file)
and the network family ``sinc``. sirenkit finds both through this package's entry points
(``pyproject.toml``); nothing here needs importing by hand.

Plugin modules import sirenkit's modules (``sirenkit.engine.kinds``, ...), never the package root
``sirenkit``: they are loaded while it is still being imported."""
