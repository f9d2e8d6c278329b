"""Viscous Burgers' equation, u_t + u u_x = ν u_xx with ν = 0.01/π, on x in [-1, 1] and t in
[0, 1], starting from u = -sin(πx) with u = 0 at both ends: a shock forms at x = 0 near t = 0.5.
No network is given, so `sirenkit solve` fits it with the default recipe:

    sirenkit solve examples/problems/burgers.py --time 120 --out runs/burgers
"""

import math

import torch

import sirenkit as sk

VISCOSITY = 0.01 / math.pi
line = sk.SpaceTime(sk.Interval(-1.0, 1.0), 0.0, 1.0)  # the points are (t, x)


def equation(f):
    u, slope = f.value, f.jacobian[:, 0, :]  # slope[:, 0] = u_t, slope[:, 1] = u_x
    return slope[:, :1] + u * slope[:, 1:] - VISCOSITY * f.laplacian


problem = sk.Problem([
    sk.Constraint("burgers", equation, sk.Interior(line, 2048), needs=("jacobian", "laplacian"), laplacian_axes=(1,)),
    sk.dirichlet(sk.Boundary(line, 512), 0.0, name="ends"),
    sk.initial_value(sk.Initial(line, 512), lambda p: -torch.sin(math.pi * p[:, 1:2]), name="start"),
])
