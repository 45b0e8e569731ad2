"""Held-out beat alignment while training, to keep the best generator of a volatile GAN run.

The score is the mean of the two published beat-alignment variants (averaged over music beats
and over motion beats, see :mod:`metrics.beats`) on the validation (or test) videos, with
librosa's music beats as in ``evaluate.py``. The motion-averaged variant punishes jitter (many
spurious kinematic beats) that the music-averaged one rewards; a dance without kinematic beats
scores 0 on it.
"""

import math

from dataset.dance_dataset import DanceDataset
from metrics.evaluation import beat_scores
from metrics.music_set import dataset_music
from model.inference import generate_draws


class HeldOutScorer:
    """Scores a generator on clips that it does not train on (one fixed noise draw per clip).

    ``rhythm``: the source of the rhythm features the generator hears (its ``rhythm``), or None.

    With ``val_videos`` those are the validation videos held out of the training split;
    without, the test split's (whose scores then no longer judge the chosen checkpoint fairly).
    """

    def __init__(self, data, split_rule, seed=0, val_videos=0, rhythm=None):
        self.split = "val" if val_videos else "test"
        held_out = DanceDataset(data, split=self.split, split_rule=split_rule, val_videos=val_videos,
                                rhythm=rhythm)
        self.video_ids = held_out.video_ids
        self.music, _ = dataset_music(held_out)
        self.seed = seed

    def __call__(self, generator):
        """``{"beat_align": ..., "beat_align_music": ..., ...}`` of ``generator`` in eval mode."""
        was_training = generator.training
        generator.eval()
        dances = generate_draws(generator, self.music.audio, 1, self.seed, self.music.rhythm)[:, 0]
        generator.train(was_training)
        scores = beat_scores(dances, self.music.beats)
        motion = scores["beat_align_motion"]
        scores["beat_align"] = 0.5 * (scores["beat_align_music"] + (0.0 if math.isnan(motion) else motion))
        return scores
