"""Music encoder: raw waveform frames -> per-frame music code.

Each pose frame owns 1600 audio samples (0.1 s at 16 kHz). A 1-D conv stack turns every frame
into 256 features independently; a 2-layer bidirectional GRU then runs along time, and a linear
layer maps its 512 outputs back to 256.

Conv stack (lengths for a 1600-sample frame)::

    cl.0  Conv1d(1 -> 16,   k=80, s=16, p=32)  + BN + ReLU   1600 -> 100
    cl.1  Conv1d(16 -> 32,  k=4,  s=2,  p=1)   + BN + ReLU    100 -> 50
    cl.2  Conv1d(32 -> 64,  k=4,  s=2,  p=1)   + BN + ReLU     50 -> 25
    cl.3  Conv1d(64 -> 128, k=10, s=5,  p=3)   + BN + ReLU     25 -> 5
    cl.4  Conv1d(128 -> 256, k=5)              + tanh           5 -> 1

The audio is raw int16-range values; the first conv + BatchNorm absorbs the scale. Submodule
names (``encoder.cl.N``, ``encoder.activations.N.0``, ``rnn``, ``fc``) equal the original
release's state-dict keys, so its checkpoints load as they are. 2,361,808 parameters.

The original fed time-major audio ``(T, B, 1600)`` and flattened it time-major before the conv
stack; every conv/BN op is per frame (BN statistics are over all frames either way), so flattening
batch-first gives the same numbers.
"""

from torch import nn
from torch.nn import functional as F

from dataset.format import SAMPLES_PER_FRAME

CODE_DIM = 256  # music features per frame
_CONVS = (  # (in, out, kernel, stride, padding)
    (1, 16, 80, 16, 32),
    (16, 32, 4, 2, 1),
    (32, 64, 4, 2, 1),
    (64, 128, 10, 5, 3),
)


class FrameEncoder(nn.Module):
    """Conv stack applied to each 1600-sample frame on its own.

    Shape:
        input: ``(N, 1600)`` raw int16-range audio, one row per frame.
        output: ``(N, 256)`` in (-1, 1).
    """

    def __init__(self):
        super().__init__()
        convs = [nn.Conv1d(c_in, c_out, k, stride=s, padding=p) for c_in, c_out, k, s, p in _CONVS]
        last = _CONVS[-1][1]
        # The last conv's kernel spans the 5 remaining samples, so its output length is 1.
        convs.append(nn.Conv1d(last, CODE_DIM, kernel_size=5))
        self.cl = nn.ModuleList(convs)
        self.activations = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(c_out), nn.ReLU()) for _, c_out, _, _, _ in _CONVS)

    def forward(self, frames):
        x = frames.unsqueeze(1)
        for conv, activation in zip(self.cl, self.activations):
            x = activation(conv(x))
        return self.cl[-1](x).squeeze(-1).tanh()


class MusicEncoder(nn.Module):
    """Per-frame conv encoder, 2-layer BiGRU over time, Linear 512 -> 256.

    Used by the generator and (as its own copy) by the sequence discriminator.

    ``edge_pad`` (0 in the paper) mirrors that many frame codes onto each end of the sequence
    before the GRU and crops them after it. With zero initial states, the first frame of the
    forward direction and the last of the backward one otherwise see no context, and a trained
    generator turns those two frames into a glitch; the mirrored frames give them context.

    Shape:
        input: ``(B, T, 1600)`` raw int16-range audio, batch first, any ``T`` (``T > edge_pad``).
        output: ``(B, T, 256)``.
    """

    def __init__(self, hidden=256, edge_pad=0):
        super().__init__()
        self.edge_pad = edge_pad
        self.encoder = FrameEncoder()
        self.rnn = nn.GRU(CODE_DIM, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(2 * hidden, CODE_DIM)

    def forward(self, audio):
        batch, frames, samples = audio.shape
        if samples != SAMPLES_PER_FRAME:
            raise ValueError(f"audio frames must hold {SAMPLES_PER_FRAME} samples, got shape "
                             f"{tuple(audio.shape)}")
        codes = self.encoder(audio.reshape(batch * frames, samples)).view(batch, frames, -1)
        if self.edge_pad:
            pad = self.edge_pad
            codes = F.pad(codes.transpose(1, 2), (pad, pad), mode="reflect").transpose(1, 2)
        out, _ = self.rnn(codes)
        if self.edge_pad:
            out = out[:, self.edge_pad:self.edge_pad + frames]
        return self.fc(out)
