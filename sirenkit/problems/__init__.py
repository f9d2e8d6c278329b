"""Problems: constraints on a network and its derivatives, and the domains where they hold.
A problem knows no file and no kind of signal."""

from sirenkit.problems.constraints import Constraint, Fields, Problem
from sirenkit.problems.domains import Box, BoxBoundary, GridSamples, PointSet, Sampler

__all__ = ["Box", "BoxBoundary", "Constraint", "Fields", "GridSamples", "PointSet", "Problem", "Sampler"]
