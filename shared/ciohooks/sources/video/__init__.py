"""Video sources: one module per provider, discovered by file name (the route is the name, _ -> -)."""
