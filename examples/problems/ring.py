"""Laplace's equation in a ring: Δu = 0, u = 0 on the inner circle (r = 0.25), u = 1 on the outer
one (r = 1); the exact solution is u = ln(r / 0.25) / ln 4.

    sirenkit solve examples/problems/ring.py --out runs/ring
"""

import sirenkit as sk

ring = sk.Disk([0, 0], 1.0, name="outer") - sk.Disk([0, 0], 0.25, name="inner")
problem = sk.Problem([
    sk.Constraint("laplace", lambda f: f.laplacian, sk.Interior(ring, 512), needs=("laplacian",)),
    sk.dirichlet(sk.Boundary(ring, 128, on="inner"), 0.0, name="inner", weight=10.0),
    sk.dirichlet(sk.Boundary(ring, 128, on="outer"), 1.0, name="outer", weight=10.0),
])
network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=3, first_omega=3.0)
train = sk.TrainConfig(steps=500)
