"""Local temporal ("frame") discriminator: real/fake score per short window of poses.

The sequence is cut into windows of 5 frames with stride 3 (16 windows for 50 frames); each
window goes through the HCN trunk (no pooling inside the streams), then
``Linear 4096 -> 256 + ReLU + Dropout(0.5)``, ``Linear 256 -> 1`` and a sigmoid.
The FC input (4096 = 256 x 1 x 16) is fixed by the window length, not by ``T``, so any
``T >= 5`` works. 1,552,001 parameters.
"""

from torch import nn

from dataset.skeleton import NUM_JOINTS

from .hcn import COORDS, HCN, flat_to_nctv

WINDOW = 5
STRIDE = 3


class LocalDiscriminator(nn.Module):
    """HCN over sliding 5-frame windows.

    Shape:
        input: ``(B, T, 36)`` flat poses.
        output: ``(B, W)`` probabilities that each window is real, ``W = (T - 5) // 3 + 1``
        (16 for T = 50); with ``logits=True`` the scores before the sigmoid (float32).
    """

    def __init__(self, num_joints=NUM_JOINTS, window=WINDOW, stride=STRIDE, dropout=0.5):
        super().__init__()
        self.window, self.stride = window, stride
        self.hcn = HCN(COORDS, num_joints, pool_every_block=False, dropout=dropout)
        self.fc7 = nn.Sequential(nn.Linear(self.hcn.output_size(window), 256), nn.ReLU(),
                                 nn.Dropout(dropout))
        self.fc8 = nn.Linear(256, 1)

    def forward(self, pose, logits=False):
        batch = pose.shape[0]
        # (B, W, D, window) -> (B*W, window, D): every window is one HCN sample.
        windows = pose.unfold(1, self.window, self.stride).transpose(2, 3)
        count = windows.shape[1]
        windows = windows.reshape(batch * count, self.window, pose.shape[2])
        trunk = self.hcn(flat_to_nctv(windows))[-1]
        score = self.fc8(self.fc7(trunk.flatten(1)))
        # sigmoid in float32: under bf16 autocast a logit above about 6 rounds to exactly 1,
        # whose BCE gradient is 0 (the discriminator could never recover)
        score = score.float()
        return (score if logits else score.sigmoid()).view(batch, count)
