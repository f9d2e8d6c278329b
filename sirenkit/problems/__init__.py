"""Problems: constraints on a network and its derivatives, the domains where they hold, the
geometry of those domains and the conditions on their boundaries. A problem knows no file and no
kind of signal."""

from sirenkit.problems.adaptive import Adaptive
from sirenkit.problems.causal import causal
from sirenkit.problems.conditions import (
    FacingPairs,
    dirichlet,
    initial_value,
    initial_velocity,
    neumann,
    periodic,
    robin,
)
from sirenkit.problems.constraints import Constraint, Fields, Problem
from sirenkit.problems.domains import Box, BoxBoundary, GridSamples, PointSet, Sampler
from sirenkit.problems.geometry import Difference, Disk, Geometry, Intersection, Interval, Polygon, Rectangle, Union
from sirenkit.problems.spacetime import Boundary, Final, Initial, Interior, SpaceTime

__all__ = ["Adaptive", "Boundary", "Box", "BoxBoundary", "Constraint", "Difference", "Disk", "FacingPairs", "Fields",
           "Final", "Geometry", "GridSamples", "Initial", "Interior", "Intersection", "Interval", "PointSet", "Polygon",
           "Problem", "Rectangle", "Sampler", "SpaceTime", "Union", "causal", "dirichlet", "initial_value",
           "initial_velocity", "neumann", "periodic", "robin"]
