"""A real two-node Ray cluster on this machine for the Ray tests (puffer-core's and puffer-train's)."""

import time

from ray.cluster_utils import Cluster


def two_node_cluster(head_args: dict | None = None, attempts: int = 2):
    """A head and a second node, one CPU each. Starting Ray's processes can time out on a loaded
    machine (its GCS gives up after a while): one more attempt before the tests fail."""
    for attempt in range(attempts):
        cluster = Cluster(initialize_head=True, connect=False,
                          head_node_args={"num_cpus": 1, "include_dashboard": False, **(head_args or {})})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            return cluster
        except Exception:
            cluster.shutdown()
            if attempt == attempts - 1:
                raise
            time.sleep(2)
