"""Held-out scores while training, to keep the best generator of a volatile GAN run.

The beat score is the mean of the two published beat-alignment variants (averaged over music
beats and over motion beats, see :mod:`metrics.beats`) on the validation (or test) videos, with
librosa's music beats as in ``evaluate.py``. The motion-averaged variant punishes jitter (many
spurious kinematic beats) that the music-averaged one rewards; a dance without kinematic beats
scores 0 on it. Given the frozen ST-GCN, the scorer also reports the Frechet distance between
its features of the dances and of the true ones (``fid_gcn``, as ``evaluate.py`` computes it),
and given its class names too, its genre accuracy on the same dances: realism checks that beat
alignment alone does not make. The bone error against the held-out dancers
(:func:`metrics.evaluation.bone_error`) shows a skeleton coming apart, which none of the others
does.

Range (:mod:`metrics.repertoire`, pixels): ``multimodality_px`` is the neck-relative distance
between the dances of :data:`DRAWS` noise draws of a clip, ``dancers_px`` the same distance
between held-out clips of different videos of one genre (NaN unless two held-out videos share a
genre; only the clips that have such a partner count), and ``multimodality_ratio`` the first
over the second. ``wrist_range_px`` and ``ankle_range_px`` are the move sizes of the scored
dances, and ``wrist_ratio`` the wrists' over the held-out dancers'. ``off_stage`` is the share of
frames whose neck leaves the box the training dancers' necks keep to
(:func:`metrics.evaluation.off_stage_frames`; the dancers themselves score about 0.007, their
untracked necks), and ``broken`` the share of frames in which some bone is over 3 times longer
or shorter than the training dancers' (:func:`metrics.evaluation.broken_frames`; the dancers,
their missed joints filled in: 0.005).
"""

import math

from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from metrics.evaluation import (beat_scores, bone_error, broken_frames, dancers_stage,
                                fid_in_sample_span, genre_accuracy, genre_labels, off_stage_frames)
from metrics.music_set import dataset_music
from metrics.repertoire import ANKLES, WRISTS, dancers_px, move_size, multimodality_px
from metrics.table import gcn_outputs
from model.inference import generate_draws

DRAWS = 5  # noise draws per clip for multimodality_px, as evaluate.py's default --samples


# --select goals: issue 36's held-out goals, as (score, the goal's bound, whether it is a floor)
GOALS = (("beat_align_music", 0.80, True), ("genre_accuracy", 0.75, True), ("fid_gcn", 10.0, False),
         ("multimodality_ratio", 0.5, True), ("wrist_ratio", 0.8, True), ("bone_error", 0.12, False),
         ("off_stage", 0.01, False), ("broken", 0.01, False))


def goal_shortfall(scores, goals=GOALS):
    """How far ``scores`` fall short of ``goals``: the sum over goals of the relative shortfall,
    ``max(0, bound - score) / bound`` for a floor and ``max(0, score - bound) / bound`` for a
    ceiling, each at most 1; 0 when every goal is met. The cap keeps one ceiling missed by a wide
    margin from outweighing the rest: the ST-GCN FID over a few validation clips sits at 35-82
    (a small sample's FID is biased high) while the test FID of the same generator is near 10,
    and uncapped its noise chose the checkpoint (docs/experiments.md sections 34, 35). A goal whose
    score is NaN (e.g. ``multimodality_ratio`` without two validation videos of a genre) counts
    as missed by its whole bound (1)."""
    total = 0.0
    for name, bound, floor in goals:
        value = scores.get(name, math.nan)
        if math.isnan(value):
            total += 1.0
        else:
            total += min(1.0, max(0.0, (bound - value) if floor else (value - bound)) / bound)
    return total


def _ratio(numerator, denominator):
    """``numerator / denominator``; NaN unless the denominator is positive."""
    return numerator / denominator if denominator > 0 else math.nan


def selection_score(scores, by="beat"):
    """The number to keep the best generator by (higher is better), from a scorer's ``scores``;
    ``by`` is one of ``config.SELECTIONS``; ``fid`` is negated."""
    if by == "beat":
        return scores["beat_align"]
    if by == "beat_genre":
        if math.isnan(scores.get("genre_accuracy", math.nan)):
            raise ValueError("selection by beat_genre needs genre accuracy: give the scorer the "
                             "ST-GCN, its class names, and clips with known genres")
        return 0.5 * (scores["beat_align"] + scores["genre_accuracy"])
    if by == "goals":
        return -goal_shortfall(scores)
    if by == "fid":
        if math.isnan(scores.get("fid_gcn", math.nan)):
            raise ValueError("selection by fid needs the ST-GCN FID: give the scorer the ST-GCN")
        return -scores["fid_gcn"]
    raise ValueError(f"unknown selection {by!r}")


def choose(candidates, by="beat", min_genre=None):
    """The index of the best of ``candidates`` (a list of scorers' ``scores``) by ``by``; ties keep
    the first. With ``min_genre``, only candidates whose genre accuracy reaches it are eligible,
    unless none does, when all are. Returns ``(index, whether the genre floor was met)``."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    eligible = list(range(len(candidates)))
    if min_genre is not None:
        reached = [i for i in eligible if candidates[i].get("genre_accuracy", math.nan) >= min_genre]
        if not reached:
            return choose(candidates, by)[0], False
        eligible = reached
    return max(eligible, key=lambda i: (selection_score(candidates[i], by), -i)), True


class HeldOutScorer:
    """Scores a generator on clips that it does not train on (one fixed noise draw per clip).

    ``rhythm``: the source of the rhythm features the generator hears (its ``rhythm``), or None.
    ``st_gcn`` (the frozen ST-GCN, optional) adds ``fid_gcn``; with its class names
    ``classes`` it adds ``genre_accuracy`` when the held-out clips' genres are known. The
    range scores (module docstring) draw :data:`DRAWS` more dances per clip, from the same seed.

    With ``val_videos`` those are the validation videos held out of the training split;
    without, the test split's (whose scores then no longer judge the chosen checkpoint fairly).
    """

    def __init__(self, data, split_rule, seed=0, val_videos=0, rhythm=None, st_gcn=None,
                 classes=None, device="cpu"):
        self.split = "val" if val_videos else "test"
        held_out = DanceDataset(data, split=self.split, split_rule=split_rule, val_videos=val_videos,
                                rhythm=rhythm)
        self.video_ids = held_out.video_ids
        self.music, self.reference = dataset_music(held_out)
        self.seed = seed
        videos = [video for video, _, _ in held_out.keys]
        self.dancers_px = (math.nan if self.music.genres is None
                           else dancers_px(self.reference, videos, self.music.genres))
        self.dancers_wrist_px = move_size(self.reference, WRISTS)
        training = DanceDataset(data, split="train", split_rule=split_rule, val_videos=val_videos)
        self.training_poses = training.pixel_poses()
        self.stage = dancers_stage(self.training_poses)
        self.st_gcn, self.device, self.labels, self.reference_features = st_gcn, device, None, None
        if st_gcn is not None:
            self.reference_features = gcn_outputs(st_gcn, self.reference, device)[0]
            if classes and self.music.genres is not None:
                self.labels = genre_labels(self.music.genres, classes)

    def check_selection(self, by, data, st_gcn_path, min_genre=None):
        """Stop with a one-line error when selection ``by`` (with a genre floor ``min_genre``)
        needs a score this scorer cannot give (``data`` and ``st_gcn_path`` name the files it
        came from)."""
        if (by in ("beat_genre", "goals") or min_genre is not None) and self.labels is None:
            what = f"selection by {by}" if by in ("beat_genre", "goals") else "a genre floor (min_genre)"
            raise DanceSynthError(f"{what} needs the genre of the held-out clips "
                                  f"(a <stem>_meta.json sidecar beside {data}) and an ST-GCN that "
                                  f"records its class names (pretrain_gcn.py's, not {st_gcn_path})")
        if by in ("fid", "goals") and self.st_gcn is None:
            raise DanceSynthError(f"selection by fid needs the ST-GCN ({st_gcn_path})")

    def __call__(self, generator):
        """``{"beat_align": ..., "beat_align_music": ..., ...}`` of ``generator`` in eval mode."""
        was_training = generator.training
        generator.eval()
        dances = generate_draws(generator, self.music.audio, 1, self.seed, self.music.rhythm)[:, 0]
        # torch draws normal noise in blocks of 16 values, so draw 0 of DRAWS can differ from the
        # single draw in its last frames: the other scores keep the single draw they always had
        draws = generate_draws(generator, self.music.audio, DRAWS, self.seed, self.music.rhythm)
        generator.train(was_training)
        scores = beat_scores(dances, self.music.beats)
        motion = scores["beat_align_motion"]
        scores["beat_align"] = 0.5 * (scores["beat_align_music"] + (0.0 if math.isnan(motion) else motion))
        scores["bone_error"] = bone_error(dances, self.reference, skip_missing=False)
        scores["multimodality_px"] = multimodality_px(draws)
        scores["dancers_px"] = self.dancers_px
        scores["multimodality_ratio"] = _ratio(scores["multimodality_px"], self.dancers_px)
        scores["wrist_range_px"] = move_size(dances, WRISTS)
        scores["ankle_range_px"] = move_size(dances, ANKLES)
        scores["wrist_ratio"] = _ratio(scores["wrist_range_px"], self.dancers_wrist_px)
        scores["off_stage"] = off_stage_frames(dances, self.stage)
        scores["broken"] = broken_frames(dances, self.training_poses)
        if self.st_gcn is not None:
            features, logits = gcn_outputs(self.st_gcn, dances, self.device)
            scores["fid_gcn"] = fid_in_sample_span(features, self.reference_features)
            if self.labels is not None:
                scores["genre_accuracy"] = genre_accuracy(logits, self.labels)
        return scores
