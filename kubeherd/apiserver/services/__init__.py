"""Service networking in the API server: cluster IPs, node ports and the `kubernetes` Service.

- ranges.py: the service CIDR and the NodePort range, split into a static and a dynamic band.
- allocator.py: one storage record per handed-out value (the design, and why).
- fields.py: the linked Service fields (defaults, clusterIP/clusterIPs, type changes).
- allocation.py: the Service write hooks that allocate and release, and the repair pass.
- kubernetes.py: the `kubernetes` Service and its Endpoints/EndpointSlice.
- network.py: `ServiceNetwork`, which the server wires in.
"""
