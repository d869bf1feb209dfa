"""The node agent: runs the pods bound to its node through a CRI runtime (containerd).

``cri`` is the CRI v1 client, ``runtime`` starts and configures the containerd this node
uses (or adopts an existing endpoint), ``images`` brings images in without a registry.
"""
