"""Recipes: each task builds constraints for the shared training loop."""
