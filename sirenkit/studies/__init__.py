"""Studies built on the signals: reconstruction from derivatives (Poisson), fusion, the
comparison of network families, a problem of your own (:func:`~sirenkit.studies.solve.solve`)
and the worked examples."""
