"""ST-GCN (Yan et al. 2018) whose block outputs give the pose perceptual loss.

Input poses are the generator's flat ``(B, T, 36)`` layout, (x, y) per joint, joint-major.
A BatchNorm1d normalises the 36 joint-coordinate channels (channel ``2*v + c``, the flat index),
then ten blocks, each a graph conv (1x1 conv to ``C_out * K`` channels, contracted with the
partitioned adjacency ``A`` times a learnable edge-importance mask) followed by
BN-ReLU-Conv(9x1, pad 4, temporal stride)-BN-Dropout(0), a residual and a ReLU::

    2 -> 64 (no residual), 64 -> 64 x3, 64 -> 128 stride 2, 128 -> 128 x2,
    128 -> 256 stride 2, 256 -> 256 x2

Head: global average pool over (T, V) and a 1x1 conv to ``num_class`` logits.
Parameter and buffer names equal the release's ``GCN.pth`` keys (``A``, ``data_bn``,
``st_gcn_networks.N.{gcn,tcn,residual}``, ``edge_importance.N``, ``fcn``).
3,078,224 parameters with 16 classes.
"""

import torch
import torch.nn.functional as F
from torch import nn

from dataset.skeleton import NUM_JOINTS

from .graph import spatial_adjacency

COORDS = 2
TEMPORAL_KERNEL = 9
# (in, out, temporal stride, residual) per block; in=None takes the input channel count.
BLOCKS = (
    (None, 64, 1, False), (64, 64, 1, True), (64, 64, 1, True), (64, 64, 1, True),
    (64, 128, 2, True), (128, 128, 1, True), (128, 128, 1, True),
    (128, 256, 2, True), (256, 256, 1, True), (256, 256, 1, True),
)


class GraphConv(nn.Module):
    """Spatial graph convolution with ``K`` adjacency partitions:
    ``out[:, c, :, w] = sum_k sum_v A[k, v, w] * conv_k(x)[:, c, :, v]``.

    With ``aggregate_first`` (the ``aggregate_first`` speed-up) the same sum is taken in the
    other order, ``sum_k W_k (x A_k)``: ``x`` is multiplied by the adjacency where it lies
    (no permuted copy of the K-times wider conv output), then one convolution whose kernel
    spans the K partitions (width K, dilation V) mixes channels; the conv's bias, carried
    through the adjacency, becomes ``sum_k b_k * colsum(A_k)``.

    Shape:
        x: ``(N, C_in, T, V)``; adjacency: ``(K, V, V)``.
        output: ``(N, C_out, T, V)``.
    """

    def __init__(self, in_channels, out_channels, partitions):
        super().__init__()
        self.partitions = partitions
        self.conv = nn.Conv2d(in_channels, out_channels * partitions, kernel_size=1)
        self.aggregate_first = False

    def forward(self, x, adjacency):
        n, c_in, t, v = x.shape
        if self.aggregate_first:
            k, _, w = adjacency.shape
            spread = adjacency.to(x.dtype).permute(1, 0, 2).reshape(v, k * w)  # (V, K*W)
            x = (x.reshape(n, c_in * t, v) @ spread).view(n, c_in, t, k * w)
            weight = self.conv.weight.view(k, -1, c_in).permute(1, 2, 0).unsqueeze(2)
            bias = (self.conv.bias.view(k, -1, 1) * adjacency.sum(1).unsqueeze(1)).sum(0)
            return F.conv2d(x, weight, dilation=(1, w)) + bias.unsqueeze(1).to(x.dtype)
        x = self.conv(x).view(n, self.partitions, -1, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, adjacency)


class STGCNBlock(nn.Module):
    """Graph conv, temporal conv, residual, ReLU.

    Shape:
        x: ``(N, C_in, T, V)``; adjacency: ``(K, V, V)``.
        output: ``(N, C_out, ceil(T / stride), V)``.
    """

    def __init__(self, in_channels, out_channels, partitions, stride=1, residual=True,
                 dropout=0.0):
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, (TEMPORAL_KERNEL, 1), stride=(stride, 1),
                      padding=(TEMPORAL_KERNEL // 2, 0)),
            nn.BatchNorm2d(out_channels), nn.Dropout(dropout))
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels))

    def forward(self, x, adjacency):
        out = self.tcn(self.gcn(x, adjacency))
        if self.residual is not None:
            out = out + self.residual(x)
        return out.relu()


class STGCN(nn.Module):
    """ST-GCN classifier of flat 2-D pose sequences.

    ``forward(pose) -> logits``; ``extract_feature(pose) -> list of the 10 block outputs``.

    Shape:
        pose: ``(B, T, V*2)`` flat poses (x, y per joint, joint-major), any ``T``.
        logits: ``(B, num_class)``.
        features: 10 tensors ``(B, C_i, T_i, V)``: C = 64 x4, 128 x3, 256 x3;
        T_i = T, then ``ceil(T/2)``, then ``ceil(T/4)`` (50, 25, 13 for T = 50).
    """

    def __init__(self, num_class=16, in_channels=COORDS, num_joints=NUM_JOINTS, dropout=0.0):
        super().__init__()
        self.register_buffer("A", spatial_adjacency(num_joints))
        partitions = self.A.shape[0]
        self.in_channels, self.num_class = in_channels, num_class
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.st_gcn_networks = nn.ModuleList(
            STGCNBlock(c_in or in_channels, c_out, partitions, stride, residual, dropout)
            for c_in, c_out, stride, residual in BLOCKS)
        self.edge_importance = nn.ParameterList(
            nn.Parameter(torch.ones_like(self.A)) for _ in self.st_gcn_networks)
        self.fcn = nn.Conv2d(BLOCKS[-1][1], num_class, kernel_size=1)

    def extract_feature(self, pose):
        batch, frames, dim = pose.shape
        x = self.data_bn(pose.transpose(1, 2))  # (B, V*C, T), channel 2*v + c
        x = x.reshape(batch, dim // self.in_channels, self.in_channels, frames).permute(0, 2, 3, 1)
        features = []
        for block, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = block(x, self.A * importance)
            features.append(x)
        return features

    def forward(self, pose):
        x = self.extract_feature(pose)[-1].mean(dim=(2, 3), keepdim=True)
        return self.fcn(x).flatten(1)
