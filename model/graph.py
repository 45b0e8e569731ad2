"""Skeleton graph for the ST-GCN: adjacency with the spatial partition strategy.

The joints, bones and centre joint come from :mod:`dataset.skeleton`; the graph logic here is
generic. Neighbours within ``max_hop`` of a joint (itself included) are split into three
subsets by their distance to the centre joint: the root (same distance as the joint),
centripetal (closer) and centrifugal (farther) neighbours. Each subset's matrix is
column-normalised by the degree of the full neighbourhood (``A @ D^-1``), so a column of the
summed partitions sums to 1. Entry ``[k, v, w]`` weights joint ``v``'s contribution to joint
``w`` in partition ``k``.

The edges are :data:`dataset.skeleton.GRAPH_BONES`: the drawn bones except that the hips link to
the shoulders (2-8, 5-11), as in the original's ST-GCN, so the graph equals the ``A`` that the
release's ``GCN.pth`` carries.
"""

import numpy as np
import torch

from dataset.skeleton import CENTER_JOINT, GRAPH_BONES, NUM_JOINTS


def hop_distance(num_joints, bones, max_hop=1):
    """Hops between joints along the bones; ``inf`` beyond ``max_hop``.

    Shape: ``(V, V)`` float array.
    """
    adjacency = np.eye(num_joints, dtype=bool)
    for i, j in bones:
        adjacency[i, j] = adjacency[j, i] = True
    distance = np.full((num_joints, num_joints), np.inf)
    reach = np.eye(num_joints, dtype=bool)
    for hop in range(max_hop + 1):
        distance[reach & np.isinf(distance)] = hop
        reach = (reach.astype(int) @ adjacency.astype(int)) > 0
    return distance


def spatial_adjacency(num_joints=NUM_JOINTS, bones=GRAPH_BONES, center=CENTER_JOINT, max_hop=1):
    """Spatial-partition adjacency of a skeleton.

    Shape: ``(2 * max_hop + 1, V, V)`` float32 tensor; ``(3, 18, 18)`` for the default skeleton.
    """
    hops = hop_distance(num_joints, bones, max_hop)
    neighbourhood = (hops <= max_hop).astype(np.float64)
    normalised = neighbourhood / neighbourhood.sum(axis=0, keepdims=True)
    to_center = hops[:, center]
    partitions = []
    for hop in range(max_hop + 1):
        at_hop = hops == hop
        # rows v, columns w: compare v's and w's distance to the centre
        root = at_hop & (to_center[:, None] == to_center[None, :])
        centripetal = at_hop & (to_center[:, None] > to_center[None, :])
        centrifugal = at_hop & (to_center[:, None] < to_center[None, :])
        if hop == 0:
            partitions.append(normalised * root)
        else:
            partitions.append(normalised * (root | centripetal))
            partitions.append(normalised * centrifugal)
    return torch.tensor(np.stack(partitions), dtype=torch.float32)
