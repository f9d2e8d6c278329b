"""Differential equations of the PINNacle benchmark (Hao et al. 2024) and jaxpi's Allen–Cahn, solved
by sirenkit and by the vanilla PINN of PINNacle's protocol in the same time budget, in one run:
the relative L2 error against each problem's reference and the seconds each fit took.

Problems (``--problems``; a ``-held`` suffix gives a variant nobody tuned on):

- ``burgers``: Burgers 1d-C, u_t + u u_x = ν u_xx (ν = 0.01/π) on [−1, 1] × [0, 1],
  u(x, 0) = −sin(πx), u(±1, t) = 0; reference: the exact Cole–Hopf solution
  (``sirenkit.studies.exact.burgers``). Held out: ν = 0.02/π.
- ``poisson``: Poisson 2d-C, Δu = 0 on [−0.5, 0.5]² minus four disks of radius 0.1 at (±0.3, ±0.3),
  u = 1 on the square, 0 on the circles; reference: finite differences
  (``sirenkit.studies.references.laplace_with_holes``). Held out: three holes of other sizes.
- ``heat``: Heat 2d-MS, u_t = u_xx / (500π)² + u_yy / π² on [0, 1]² × [0, 5],
  u = sin(20πx) sin(πy) at t = 0, 0 on the edges; exact. Held out: sin(10πx) sin(2πy).
- ``wave``: Wave 1d-C, u_tt = 4 u_xx on [0, 1]², u = sin(πx) + sin(4πx)/2 and u_t = 0 at t = 0,
  0 at x = 0 and 1; exact. Held out: the second mode sin(3πx).
- ``helmholtz``: Δu + u = f on [0, 1]² with u = sin(4πx) sin(4πy) (PINNacle's Helmholtz2D), u = 0
  on the edges; exact. Held out: u = sin(2πx) sin(6πy).
- ``allen-cahn``: u_t = 10⁻⁴ u_xx + 5 (u − u³) on [−1, 1] (periodic) × [0, 1], u(x, 0) = x² cos(πx)
  (jaxpi's statement); reference: Fourier spectral with ETDRK4
  (``sirenkit.studies.references.allen_cahn``). Held out: u(x, 0) = 0.2 − x sin(πx) cos(πx).

Methods (``--methods``):

- ``vanilla``: PINNacle's PINN: tanh, five hidden layers of 100, Glorot normal weights and zero
  biases, Adam at 10⁻³ (constant), 8,192 points inside, 2,048 on the boundary and 2,048 at t = 0,
  drawn once, every term of weight 1, at most 20,000 steps.
- ``sirenkit``: the default recipe of ``sirenkit.solve`` (``sirenkit.default_recipe``: a SIREN on
  the domain scaled to [−1, 1], the terms balanced by their gradients, Adam on a cosine schedule,
  then L-BFGS) on 2,048 points inside and 512 on the boundary and at the start, drawn afresh every
  step; ``--omega`` tries other first-layer frequencies.

Each fit gets ``--budget`` seconds (sirenkit's L-BFGS phase within them); the seconds reported
are the whole fit's. Time alone: every fit uses the machine's cores.

    python benchmarks/pdes.py [--problems burgers,poisson,...] [--methods vanilla,sirenkit]
        [--budget 900] [--json benchmarks/results/pdes-cpu.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

import sirenkit as sk  # noqa: E402
from sirenkit.studies.exact import burgers as burgers_exact  # noqa: E402

PI = math.pi


@dataclass
class Case:
    """One problem: how to build it with a number of points per domain, and its reference."""

    name: str
    dims: int
    build: Callable[[dict[str, int]], sk.Problem]
    """The problem, given the points of each kind of domain (`inside`, `boundary`, `initial`)."""
    points: np.ndarray
    """The test points, `(N, dims)` (time first)."""
    reference: np.ndarray
    """The reference solution there, `(N,)`."""


def grid(*axes: np.ndarray) -> np.ndarray:
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)


# --- the problems -------------------------------------------------------------------------------------


def burgers(viscosity: float = 0.01 / PI) -> Case:
    line = sk.SpaceTime(sk.Interval(-1.0, 1.0), 0.0, 1.0)

    def build(n: dict[str, int]) -> sk.Problem:
        def equation(f):
            u, grad = f.value, f.jacobian[:, 0, :]
            return grad[:, :1] + u * grad[:, 1:] - viscosity * f.laplacian

        return sk.Problem([
            sk.Constraint("equation", equation, sk.Interior(line, n["inside"]), needs=("jacobian", "laplacian"),
                          laplacian_axes=(1,)),
            sk.dirichlet(sk.Boundary(line, n["boundary"]), 0.0, name="ends"),
            sk.initial_value(sk.Initial(line, n["initial"]), lambda p: -torch.sin(PI * p[:, 1:2]), name="start"),
        ])

    points = grid(np.linspace(0, 1, 101), np.linspace(-1, 1, 201))
    return Case("burgers", 2, build, points, burgers_exact(points[:, 1], points[:, 0], viscosity))


def poisson(holes: tuple[tuple[float, float, float], ...] = ((0.3, 0.3, 0.1), (-0.3, 0.3, 0.1), (0.3, -0.3, 0.1),
                                                            (-0.3, -0.3, 0.1))) -> Case:
    from sirenkit.studies.references import laplace_with_holes

    plate: sk.Geometry = sk.Rectangle([-0.5, -0.5], [0.5, 0.5], name="plate")
    for k, (x, y, r) in enumerate(holes):
        plate = plate - sk.Disk([x, y], r, name=f"hole{k}")
    names = [f"hole{k}" for k in range(len(holes))]

    def build(n: dict[str, int]) -> sk.Problem:
        return sk.Problem([
            sk.Constraint("equation", lambda f: f.laplacian, sk.Interior(plate, n["inside"]), needs=("laplacian",)),
            sk.dirichlet(sk.Boundary(plate, n["boundary"] // 2, on="plate"), 1.0, name="square"),
            sk.dirichlet(sk.Boundary(plate, n["boundary"] // 2, on=names), 0.0, name="holes"),
        ])

    points = grid(np.linspace(-0.5, 0.5, 101), np.linspace(-0.5, 0.5, 101))
    points = points[plate.contains(torch.from_numpy(points).float()).numpy()]
    reference = laplace_with_holes(points[:, 0], points[:, 1], holes=holes)
    return Case("poisson", 2, build, points, reference)


def heat(modes: tuple[int, int] = (20, 1)) -> Case:
    box = sk.SpaceTime(sk.Rectangle([0.0, 0.0], [1.0, 1.0]), 0.0, 5.0)
    a, b = 1 / (500 * PI) ** 2, 1 / PI ** 2
    m, k = modes
    rate = a * (m * PI) ** 2 + b * (k * PI) ** 2

    def build(n: dict[str, int]) -> sk.Problem:
        def equation(f):
            h = f.hessian[:, 0]
            return f.jacobian[:, 0, :1] - a * h[:, 1, 1:2] - b * h[:, 2, 2:3]

        return sk.Problem([
            sk.Constraint("equation", equation, sk.Interior(box, n["inside"]), needs=("jacobian", "hessian")),
            sk.dirichlet(sk.Boundary(box, n["boundary"]), 0.0, name="edges"),
            sk.initial_value(sk.Initial(box, n["initial"]),
                             lambda p: torch.sin(m * PI * p[:, 1:2]) * torch.sin(k * PI * p[:, 2:3]), name="start"),
        ])

    points = grid(np.linspace(0, 5, 26), np.linspace(0, 1, 101), np.linspace(0, 1, 21))
    exact = np.sin(m * PI * points[:, 1]) * np.sin(k * PI * points[:, 2]) * np.exp(-rate * points[:, 0])
    return Case("heat", 3, build, points, exact)


def wave(second: int = 4) -> Case:
    box = sk.SpaceTime(sk.Interval(0.0, 1.0), 0.0, 1.0)

    def exact(t, x, lib=np):
        return lib.sin(PI * x) * lib.cos(2 * PI * t) + 0.5 * lib.sin(second * PI * x) * lib.cos(2 * second * PI * t)

    def build(n: dict[str, int]) -> sk.Problem:
        def equation(f):
            h = f.hessian[:, 0]
            return h[:, 0, 0:1] - 4 * h[:, 1, 1:2]

        return sk.Problem([
            sk.Constraint("equation", equation, sk.Interior(box, n["inside"]), needs=("hessian",)),
            sk.dirichlet(sk.Boundary(box, n["boundary"]), 0.0, name="ends"),
            sk.initial_value(sk.Initial(box, n["initial"]), lambda p: exact(p[:, :1], p[:, 1:2], torch), name="start"),
            sk.initial_velocity(sk.Initial(box, n["initial"]), 0.0, name="at rest"),
        ])

    points = grid(np.linspace(0, 1, 101), np.linspace(0, 1, 101))
    return Case("wave", 2, build, points, exact(points[:, 0], points[:, 1]))


def helmholtz(modes: tuple[int, int] = (4, 4)) -> Case:
    square = sk.Rectangle([0.0, 0.0], [1.0, 1.0])
    m, k = modes

    def exact(p, lib=np):
        return lib.sin(m * PI * p[:, 0:1]) * lib.sin(k * PI * p[:, 1:2])

    def build(n: dict[str, int]) -> sk.Problem:
        source = 1 - PI ** 2 * (m ** 2 + k ** 2)
        return sk.Problem([
            sk.Constraint("equation", lambda f: f.laplacian + f.value - source * exact(f.points, torch),
                          sk.Interior(square, n["inside"]), needs=("laplacian",)),
            sk.dirichlet(sk.Boundary(square, n["boundary"]), 0.0, name="edges"),
        ])

    points = grid(np.linspace(0, 1, 101), np.linspace(0, 1, 101))
    return Case("helmholtz", 2, build, points, exact(points)[:, 0])


def allen_cahn(start: Callable = lambda x, lib=np: x ** 2 * lib.cos(PI * x)) -> Case:
    from sirenkit.studies.references import allen_cahn as allen_cahn_reference

    line = sk.SpaceTime(sk.Interval(-1.0, 1.0), 0.0, 1.0)

    def build(n: dict[str, int]) -> sk.Problem:
        def equation(f):
            u = f.value
            return f.jacobian[:, 0, :1] - 1e-4 * f.laplacian + 5 * u ** 3 - 5 * u

        return sk.Problem([
            sk.Constraint("equation", equation, sk.Interior(line, n["inside"]), needs=("jacobian", "laplacian"),
                          laplacian_axes=(1,)),
            sk.periodic(line, 1, n["boundary"] // 2, name="periodic"),
            sk.initial_value(sk.Initial(line, n["initial"]), lambda p: start(p[:, 1:2], torch), name="start"),
        ])

    t, x = np.linspace(0, 1, 101), np.linspace(-1, 1, 256, endpoint=False)
    points = grid(t, x)
    reference = allen_cahn_reference(x[None, :], t[:, None], initial=lambda s: start(s)).ravel()
    return Case("allen-cahn", 2, build, points, reference)


CASES: dict[str, Callable[[], Case]] = {
    "burgers": burgers,
    "poisson": poisson,
    "heat": heat,
    "wave": wave,
    "helmholtz": helmholtz,
    "allen-cahn": allen_cahn,
    "burgers-held": lambda: burgers(0.02 / PI),
    "poisson-held": lambda: poisson(((0.25, 0.2, 0.15), (-0.2, 0.25, 0.1), (0.0, -0.25, 0.12))),
    "heat-held": lambda: heat((10, 2)),
    "wave-held": lambda: wave(3),
    "helmholtz-held": lambda: helmholtz((2, 6)),
    "allen-cahn-held": lambda: allen_cahn(lambda x, lib=np: -x * lib.sin(PI * x) * lib.cos(PI * x) + 0.2),
}


# --- the methods ----------------------------------------------------------------------------------------

VANILLA_POINTS = {"inside": 8192, "boundary": 2048, "initial": 2048}
SIRENKIT_POINTS = {"inside": 2048, "boundary": 512, "initial": 512}


def vanilla(case: Case, budget: float, seed: int) -> tuple[torch.nn.Module, sk.Problem, sk.TrainConfig]:
    network = sk.NetworkConfig(model="tanh", in_features=case.dims, out_features=1, hidden_features=100,
                               hidden_layers=5)
    model = sk.build_network(network, seed=seed)
    with torch.no_grad():  # Glorot normal for the output layer too, biases zero (DeepXDE's initialiser)
        torch.nn.init.xavier_normal_(model.output.weight)
        torch.nn.init.zeros_(model.output.bias)
    train = sk.TrainConfig(steps=20_000, time_budget=budget, learning_rate=1e-3, schedule="constant",
                           warmup_steps=0, seed=seed, log_every=500, checkpoint_every=0)
    return model, case.build(VANILLA_POINTS).fixed(seed), train


def sirenkit(case: Case, budget: float, seed: int, omega: float | None = None
             ) -> tuple[torch.nn.Module, sk.Problem, sk.TrainConfig]:
    problem = case.build(SIRENKIT_POINTS)
    recipe = sk.default_recipe(problem, time_budget=budget, seed=seed)
    network = recipe.network if omega is None else dataclasses.replace(recipe.network, first_omega=omega)
    train = dataclasses.replace(recipe.train, log_every=500, checkpoint_every=0)
    return sk.build_network(network, seed=seed), problem, train



def recipe_settings() -> dict:
    """The default recipe's settings, as this run used them."""
    from sirenkit.studies import recipe
    return {"width": recipe.WIDTH, "depth": recipe.DEPTH, "omega": recipe.OMEGA,
            "learning_rate": recipe.LEARNING_RATE, "lbfgs_share": recipe.LBFGS_SHARE}


def relative_error(model: torch.nn.Module, case: Case) -> float:
    points = torch.from_numpy(case.points).float()
    with torch.no_grad():
        values = torch.cat([model(chunk) for chunk in points.split(65536)])[:, 0].double().numpy()
    return float(np.linalg.norm(values - case.reference) / np.linalg.norm(case.reference))


def run_one(case: Case, method: str, budget: float, seed: int, omega: float | None = None) -> dict:
    model, problem, train = sirenkit(case, budget, seed, omega) if method == "sirenkit" else vanilla(case, budget, seed)
    start = time.perf_counter()
    fitted = sk.fit(model, problem, train, progress=False)
    seconds = time.perf_counter() - start
    phase = next((row["lbfgs_from"] for row in fitted.history if "lbfgs_from" in row), None)
    adam = fitted.steps if phase is None else phase
    return {"problem": case.name, "method": method, "error": relative_error(fitted.model, case),
            "adam_steps": adam, "lbfgs_steps": fitted.steps - adam, "seconds": round(seconds, 1), "seed": seed,
            "omega": omega}


def write(path: Path, budget: float, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(), "budget": budget,
               "date": time.strftime("%Y-%m-%d"), "settings": recipe_settings(), "rows": rows}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=1) + "\n")
    temporary.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="burgers,poisson,heat,wave,helmholtz,allen-cahn")
    parser.add_argument("--methods", default="vanilla,sirenkit")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--omega", default=None, help="sirenkit's first-layer frequencies to try, e.g. 3,10,30 "
                        "[default: the recipe's]")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="keep the rows already in --json (same budget and "
                        "machine) instead of fitting them again")
    args = parser.parse_args()
    unknown = set(args.methods.split(",")) - {"vanilla", "sirenkit"}
    if unknown:
        parser.error(f"unknown methods {', '.join(sorted(unknown))}; expected vanilla, sirenkit")
    rows: list[dict] = []
    previous = []  # a run that stopped keeps its rows: the same budget and machine go on from them
    if args.json and args.json.is_file() and args.resume:
        kept = json.loads(args.json.read_text())
        if kept.get("budget") == args.budget and kept.get("machine") == machine():
            previous = kept["rows"]
    print(f"{'problem':<16} {'method':<18} {'rel. L2':>9} {'steps':>12} {'seconds':>8}")
    for name in args.problems.split(","):
        case = CASES[name]()
        runs = [(method, None) for method in args.methods.split(",") if method != "sirenkit" or not args.omega]
        if "sirenkit" in args.methods.split(",") and args.omega:
            runs += [("sirenkit", float(omega)) for omega in args.omega.split(",")]
        for method, omega in runs:
            done = next((row for row in previous if row["problem"] == name and row["method"] == method
                         and row.get("omega") == omega), None)
            row = done or run_one(case, method, args.budget, args.seed, omega)
            row["problem"] = name
            rows.append(row)
            if args.json:  # after every fit, so that an interrupted run keeps what it measured
                write(args.json, args.budget, rows)
            steps = f"{row['adam_steps']}+{row['lbfgs_steps']}" if row["lbfgs_steps"] else str(row["adam_steps"])
            label = method if row["omega"] is None else f"{method} ω0={row['omega']:g}"
            print(f"{name:<16} {label:<18} {row['error']:9.2e} {steps:>12} {row['seconds']:8.1f}", flush=True)
        errors: dict[str, float] = {}
        for row in rows:
            if row["problem"] == name:
                errors[row["method"]] = min(errors.get(row["method"], math.inf), row["error"])
        if "vanilla" in errors and "sirenkit" in errors:
            print(f"{'':<16} ratio vanilla / sirenkit: {errors['vanilla'] / errors['sirenkit']:.1f}", flush=True)


if __name__ == "__main__":
    main()
