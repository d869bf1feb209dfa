"""The control loops of kube-controller-manager, each one a client of the API."""
