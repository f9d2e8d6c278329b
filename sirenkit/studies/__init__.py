"""Studies built on the signals: reconstruction from derivatives (Poisson), fusion, the
comparison of network families, a problem of your own ([`solve`][sirenkit.solve])
and the worked examples."""
