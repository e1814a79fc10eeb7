"""Model backends behind small interfaces, chosen by name in the recipe."""
