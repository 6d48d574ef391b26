"""The event stream's side of the invariant checker: the whole transactions topic."""
