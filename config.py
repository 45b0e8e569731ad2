"""Command-line options: the one source of truth for every hyper-parameter.

The defaults are the paper's (the original release's ``config.py``): its option names are kept
so that its users' commands still work; new options only add to them. Scripts build their
parser from the groups here, so a default is written exactly once.
"""

import argparse

DEFAULT_DATA = "dataset/synthetic.json"
DEFAULT_GCN = "./pretrain_model/GCN.pth"
SHIPPED_GENERATOR = "./pretrain_model/generator.pth"
DEFAULT_EMBEDDING = "pretrain_model/embedding.pth"

# What a run keeps its best generator by (train.py --select, select_checkpoint.py --by);
# metrics.heldout.selection_score computes them.
SELECTIONS = {
    "beat": "beat_align: the mean of the music- and motion-averaged beat alignment",
    "beat_genre": "the mean of beat_align and the ST-GCN's genre accuracy (realism as well)",
    "fid": "the ST-GCN FID of the held-out dances against the true ones (lower is better)",
    "goals": "the smallest summed relative shortfall from issue 36's goals (music beat alignment "
             "0.80, genre 0.75, FID 10, multimodality 0.5 of the dancers', wrists 0.8 of the "
             "dancers', bone error 0.12), each counted at most once (1); 0 when all are met (ties "
             "keep the earlier checkpoint)",
}

# Speed-ups of the training loop (train.py), by name; none changes the maths.
SPEEDUPS = {
    "skip_unused_grads": "the generator step freezes the discriminators' weights, so no weight "
                         "gradient that no optimiser uses is computed and the sequence "
                         "discriminator's music path runs without autograd there; with --gap > 1 "
                         "the generator's forward runs without autograd when it takes no step",
    "share_music_code": "the sequence discriminator's music code (its music path has no dropout and "
                        "its BatchNorms see the same batch each time) is computed once per "
                        "discriminator step for the real, fake and gradient-penalty passes and "
                        "once per generator step for the fake and real passes; gradients sum "
                        "through it and the BatchNorm running statistics get every pass's update",
    "skip_pooled_out_rows": "the local discriminator's conv6 sees 3 frames and its max-pool keeps "
                            "the first 2: conv6 computes only the rows the pool reads",
    "aggregate_first": "the frozen ST-GCN's graph convolutions multiply by the adjacency before "
                       "the 1x1 convolution instead of after it (the same sum in another order, "
                       "without a permuted copy of the K-times wider conv output)",
    "fused_adam": "Adam updates all of a network's parameters in one fused kernel",
    "cudnn_benchmark": "CUDA only: let cuDNN pick the fastest convolution algorithms",
    "channels_last": "CPU, one process only: keep the 2-D convolution weights of both discriminators in "
                     "channels-last layout, which oneDNN runs faster (same values, another "
                     "memory order; the ST-GCN stays as it is: slower that way in fp32)",
}


# Named recipes: option values applied as defaults (an option given on the command line wins).
RECIPES = {
    "paper": {},
    # issue "a model that really dances": mirrored GRU context at the clip ends (against the
    # boundary glitch), bf16 autocast (faster, so more iterations per hour), a warmed-up moving
    # average of the generator's weights, a quarter of the paper's L1 weight (held-out FID, genre
    # and retrieval were better in the README's ablation), and the beat alignment on 4 training
    # videos held out of training tracked to keep the best generator; issue "dance on the beat":
    # librosa's rhythm features heard by the generator and the sequence discriminator, training
    # poses with their missing joints interpolated, no dropout before the generator's output (its
    # jitter was the motion the discriminators saw) and the speed-profile term, on poses blurred
    # over one frame so that it matches the dancers' movement, not the pose tracker's jitter.
    "beat": {"edge_pad": 6, "amp": "auto", "ema": 0.999, "alpha": 50.0, "eval_every": 100,
             "val_videos": 4, "rhythm": "librosa", "fill_missing": True, "decoder_dropout": 0.0,
             "lambda_motion": 100.0, "motion_smooth": 1.0},
    # issue "a dancer with a repertoire" (not yet shipped): the beat recipe with a per-clip latent
    # that chooses the moves, one of 8 choices learned by multiple-choice learning (a Gaussian
    # latent danced worse from its prior; docs/experiments.md section 30); the generator kept is
    # the one that falls short of the held-out goals the least on the validation videos;
    # the adversarial terms from logits (section 30's sequence discriminator saturated in float32
    # and never learned again); at most 100 minutes of training. The bone-length term holds every
    # choice's skeleton to the dancer's build and the speed-profile term its speed (sections 34,
    # 36). Each frame is decoded from its clip's mean music code and a genre one-hot, the rhythm
    # features saying when to move (sections 37, 38: no slide to a corner on songs with breaks,
    # which quiet gaps cut into the training music teach); the L1 and perceptual terms judge the
    # dance where it stands, relative to the neck (sections 39-41); R1 on both discriminators
    # keeps either from winning outright early (a seed's skeleton collapsed), and the move-size
    # term holds every choice's swings to the dancer's, how far and how fast (sections 42, 43);
    # the stage term keeps every dance's neck in the box the dancers' necks keep to (section 44);
    # the decoder draws bone directions, so a limb keeps its length (section 45), and the
    # mode-seeking term keeps the choices' moves as far apart as two dancers' (section 46)
    "repertoire": {"edge_pad": 6, "amp": "auto", "ema": 0.999, "alpha": 50.0, "eval_every": 100,
                   "val_videos": 4, "rhythm": "librosa", "fill_missing": True, "decoder_dropout": 0.0,
                   "lambda_motion": 100.0, "motion_smooth": 1.0, "latent": 8, "select": "goals",
                   "d_logits": True, "max_minutes": 100.0, "lambda_bone": 10.0, "motion_prior": True,
                   "genre_input": True, "code_hold": True, "l1_relative": True,
                   "perceptual_in_place": True, "audio_gaps": 2, "lambda_move": 600.0,
                   "lambda_r1": 0.02, "lambda_r1_seq": 0.02, "lambda_stage": 100.0,
                   "pose_output": "bones", "lambda_modes": 10.0},
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults and keep the description's line breaks."""


def positive_int(text):
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more, got %s" % text)
    return value


def non_negative_int(text):
    """argparse type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, got %s" % text)
    return value


def probability(text):
    """argparse type: a number from 0 to 1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1, got %s" % text)
    return value


def non_negative(text):
    """argparse type: a number of at least 0."""
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError("must be 0 or more, got %s" % text)
    return value


def _parser(description):
    return argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)


def add_data_args(parser):
    """Dataset file and train/test split (shared by every script that reads the corpus)."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=DEFAULT_DATA,
                       help="dataset file in the original release's JSON format "
                            "(make one with `python -m dataset.synthetic`)")
    group.add_argument("--split", default="auto",
                       help="train/test split by video id: auto | original | meta | all | "
                            "videos:047,049 | fraction:0.1 (auto = the sidecar's test list when it has "
                            "one, else the original's rule when the file has its test videos "
                            "047/049, else the last 10%% of videos)")
    return group


def add_device_args(parser):
    """Device, seed and threads."""
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="auto picks CUDA when available")
    group.add_argument("--seed", type=int, default=0, help="seed for weights, noise and batch order")
    group.add_argument("--threads", type=int, default=0,
                       help="CPU threads for torch (0 = automatic: the cores that other processes "
                            "leave free, re-measured every 10 s while training, so that runs "
                            "sharing a machine do not stall each other; OMP_NUM_THREADS, when "
                            "set, is used instead)")
    return group


def train_parser():
    """Options of ``train.py``; defaults are the paper's recipe."""
    parser = _parser("Train the music-to-dance GAN (generator, local and sequence discriminators) "
                     "with the pose perceptual loss of a frozen, pre-trained ST-GCN.")
    add_data_args(parser)
    add_device_args(parser)
    io = parser.add_argument_group("outputs")
    io.add_argument("--out", default="./log/test/", help="checkpoint folder")
    io.add_argument("--out_tensorboard", default=None,
                    help="tensorboard folder (default: <out>/tensorboard)")
    io.add_argument("--gap_save", type=int, default=50, help="epochs between checkpoints")
    io.add_argument("--pretrain_GCN", default=DEFAULT_GCN,
                    help="frozen ST-GCN weights for the perceptual loss (make them with pretrain_gcn.py)")
    recipe = parser.add_argument_group("recipe (the paper's by default)")
    recipe.add_argument("--recipe", default="paper", choices=RECIPES,
                        help="named set of defaults: " + "; ".join(
                            "%s: %s" % (name, ", ".join("--%s %s" % kv for kv in values.items())
                                        or "the paper's") for name, values in RECIPES.items()))
    recipe.add_argument("--edge_pad", type=int, default=0,
                        help="frames mirrored onto each end of the music code before the "
                             "generator's BiGRU (0 = the paper's; 6 removes the first/last-frame "
                             "glitch of trained generators)")
    recipe.add_argument("--rhythm", default=None, choices=("librosa", "truth"),
                        help="feed per-frame rhythm features (onset strength, beat phase, 2- and "
                             "4-beat cycle, beat pulse; dataset/rhythm.py) to the generator beside "
                             "its music code: beats tracked by librosa, or the sidecar's true beats "
                             "(an oracle for the synthetic corpus); cached beside --data "
                             "(default: none, the paper's)")
    recipe.add_argument("--rhythm_discriminator", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="with --rhythm, the sequence discriminator hears the features too")
    recipe.add_argument("--audio_gaps", type=non_negative_int, default=0, metavar="N",
                        help="in training, cut up to N quiet gaps (0.1-2 s at 0.01-0.4 of the "
                             "level) into each clip's music, the dance left as it was, so that a "
                             "break in a song does not throw the dancer to a corner (0, the "
                             "paper's: off; model/audio_gaps.py)")
    recipe.add_argument("--code_cap", type=non_negative, default=0.0, metavar="NORM",
                        help="scale down each frame's music code to at most this norm before the "
                             "pose generator decodes it, in training and inference (recorded in "
                             "the checkpoint). After a quiet stretch a loud hit can make the "
                             "encoder's code ring to 15-20 times its usual size for a few frames, "
                             "and the decoder slides the body off to the edge (0, the paper's: off)")
    recipe.add_argument("--code_hold", action=argparse.BooleanOptionalAction, default=False,
                        help="decode every frame from its clip's mean music code, in training and "
                             "inference (recorded in the checkpoint): the code says what the song "
                             "is, the rhythm features (needs --rhythm) say when to move. It ends the "
                             "throws on slow, quiet songs; trained so with the joint output the "
                             "skeletons came apart, with --pose_output bones they stay whole "
                             "(docs/experiments.md section 23; default: off, the paper's)")
    recipe.add_argument("--pose_output", default="joints", choices=("joints", "bones"),
                        help="the generator's last layer: 36 joint coordinates through tanh (the "
                             "paper's), or the neck's position and each bone's direction and "
                             "length (0.7-1.1 of the training dancers' median), laid out from the "
                             "neck, so that a skeleton cannot come apart (recorded in the "
                             "checkpoint; model/bone_output.py)")
    recipe.add_argument("--genre_input", action=argparse.BooleanOptionalAction, default=False,
                        help="the pose generator also hears a one-hot genre per frame: in training "
                             "the clip's genre from the sidecar, at inference the genre a ridge "
                             "classifier of running moments reads off the clip's music code "
                             "(recorded in the checkpoint; needs a sidecar with genre_index; "
                             "model/genre_head.py). Unlike the code's song offset, its size does not "
                             "shrink on songs the encoder has not heard (default: off, the paper's)")
    recipe.add_argument("--latent", type=int, default=0, metavar="L",
                        help="a per-clip latent that chooses the moves: one of L learned choices "
                             "(2 to 10), a one-hot. Each training clip is danced from every choice "
                             "without gradients, and the L1, perceptual and motion terms judge the "
                             "dance of the choice nearest the true one (multiple-choice learning); "
                             "the adversarial terms judge one made from a choice read off the noise, "
                             "as at inference (recorded in the checkpoint; 0, the paper's: off)")
    recipe.add_argument("--decoder_dropout", type=probability, default=0.5,
                        help="dropout before the generator's output layer in training (0.5, the "
                             "paper's). It is off at inference, and the frame-to-frame jitter it "
                             "adds in training is most of the motion the discriminators see: a "
                             "decoder trained with it dances far less once it is off")
    recipe.add_argument("--fill_missing", action=argparse.BooleanOptionalAction, default=False,
                        help="train on poses whose missing joints (OpenPose misses, stored as "
                             "(0, 0)) are interpolated over time, so that neither the L1 term nor "
                             "the discriminators teach the generator to throw a joint to the corner")
    recipe.add_argument("--l1_relative", action=argparse.BooleanOptionalAction, default=False,
                        help="the L1 term on poses laid out from the neck (its position, and every "
                             "other joint relative to it), so that where the dancer stands, which the "
                             "music does not say, does not drown the pose's error (model/losses.py; "
                             "default: off, the paper's joints where they stand)")
    recipe.add_argument("--perceptual_in_place", action=argparse.BooleanOptionalAction, default=False,
                        help="the pose perceptual term compares the generated dance moved, clip by "
                             "clip, onto the true dance's place (their necks' mean positions made "
                             "equal): the frozen ST-GCN sees absolute positions, and a dance in the "
                             "wrong place costs about as much as a wrong dance (model/losses.py "
                             "moved_to_place; default: off, the paper's)")
    recipe.add_argument("--lambda_motion", type=float, default=0.0,
                        help="weight of a speed-profile term: L1 between the generated and the "
                             "real mean joint speed per frame (0 = off, the paper's)")
    recipe.add_argument("--motion_smooth", type=float, default=0.0,
                        help="blur both pose sequences over time by a Gaussian of this many frames "
                             "before the speed-profile term, so it matches the dancer's movement, "
                             "not the pose tracker's jitter (0 = raw speeds)")
    recipe.add_argument("--motion_prior", action=argparse.BooleanOptionalAction, default=False,
                        help="with --latent: the speed-profile term also on the dance from the "
                             "prior latent, not only on the one from the best latent: every choice "
                             "rests and moves when the dancer does (the moments are the music's)")
    recipe.add_argument("--lambda_bone", type=float, default=0.0,
                        help="weight of a bone-length term: every generated frame's bone lengths "
                             "against the clip's dancer's (mean |log ratio|), for every latent "
                             "choice, so no skeleton comes apart (0 = off, the paper's)")
    recipe.add_argument("--lambda_move", type=non_negative, default=0.0,
                        help="weight of a move-size term: L1 between how far and how fast each joint "
                             "of the generated dance swings about the neck over the clip (the "
                             "standard deviations of its x and y relative to the neck and of their "
                             "steps, blurred by --motion_smooth) and the dancer's, for every latent "
                             "choice (L1 reaches only the choice that fits and shrinks it to the "
                             "mean of its moves; model/losses.py move_size_loss; 0 = off, the "
                             "paper's)")
    recipe.add_argument("--lambda_modes", type=non_negative, default=0.0,
                        help="weight of a mode-seeking term (needs --latent): on every clip whose "
                             "noise chose another move than the one that fits, how far the two "
                             "dances' moves (poses relative to the neck, less the clip's mean "
                             "pose) fall short of the distance between two training dancers of "
                             "one genre; zero beyond it "
                             "(model/losses.py choice_spread_loss; 0 = off, the paper's)")
    recipe.add_argument("--lambda_stage", type=non_negative, default=0.0,
                        help="weight of a stage term: how far each generated dance's neck stands "
                             "outside the box the training dancers' necks keep to (their 0.1st to "
                             "99.9th percentile), for every latent choice; zero inside the box, so "
                             "where the dancer stands within it stays free (model/losses.py "
                             "stage_loss; 0 = off, the paper's)")
    recipe.add_argument("--ema", type=float, default=0.0,
                        help="decay of an exponential moving average of the generator's weights "
                             "(0 = off); checkpoints then carry it and inference uses it")
    recipe.add_argument("--eval_every", type=int, default=0,
                        help="every this many iterations, score the held-out beat alignment "
                             "and keep the best generator as generator_best.pth (0 = off)")
    recipe.add_argument("--select", default="beat", choices=SELECTIONS,
                        help="what --eval_every keeps generator_best.pth by: " + "; ".join(
                            "%s: %s" % item for item in SELECTIONS.items()))
    recipe.add_argument("--val_videos", type=int, default=0,
                        help="hold this many training videos out of training and score "
                             "--eval_every on them (0 = score on the test split, which then "
                             "judges the kept checkpoint optimistically)")
    opt = parser.add_argument_group("optimisation (paper defaults)")
    opt.add_argument("--niter", type=int, default=400, help="training epochs")
    opt.add_argument("--batch_size", type=int, default=16)
    opt.add_argument("--lr_g", type=float, default=3e-4, help="generator learning rate (Adam)")
    opt.add_argument("--lr_d_frame", type=float, default=3e-4,
                     help="local (frame) discriminator learning rate (Adam)")
    opt.add_argument("--lr_d_seq", type=float, default=5e-4,
                     help="sequence discriminator learning rate (Adam)")
    opt.add_argument("--gap", type=int, default=1,
                     help="discriminator steps per generator step")
    opt.add_argument("--alpha", type=float, default=200.0, help="weight of the L1 pose loss")
    opt.add_argument("--lambda_grad", type=float, default=1.0,
                     help="weight of the pose perceptual loss (the original's help text called it "
                          "the gradient penalty weight; it weights the perceptual term)")
    opt.add_argument("--d_logits", action=argparse.BooleanOptionalAction, default=False,
                     help="compute the adversarial BCE terms from the discriminators' logits "
                          "(the same loss; not the paper's numerics): in float32 a probability "
                          "rounds to exactly 1 above a logit of about 17, where the paper's BCE "
                          "is clamped at 100 and has no gradient, so a discriminator that sure "
                          "never recovers (the repertoire run's did at iteration 392)")
    opt.add_argument("--lambda_r1", type=non_negative, default=0.0, metavar="GAMMA",
                     help="R1 penalty on the local discriminator (not the paper's): GAMMA / 2 times "
                          "the squared gradient of its logits at the real windows, so that it cannot "
                          "win outright early in training (a seed's local discriminator did within "
                          "126 iterations, and its generator's skeleton collapsed to a point; "
                          "0 = off, the paper's)")
    opt.add_argument("--lambda_r1_seq", type=non_negative, default=0.0, metavar="GAMMA",
                     help="R1 penalty on the sequence discriminator (not the paper's): GAMMA / 2 "
                          "times the squared gradient of its logits at the real dances, their "
                          "music heard. The paper's gradient penalty is on the probability, which "
                          "stops holding the logits' slope once the sigmoid saturates (0 = off)")
    opt.add_argument("--lambda_gp", type=float, default=1.0,
                     help="weight of the sequence discriminator's gradient penalty")
    opt.add_argument("--gp_every", type=positive_int, default=1, metavar="K",
                     help="lazy regularisation (StyleGAN2; not the paper's): the gradient penalty, "
                          "and the R1 penalties when set, only every K-th discriminator step, "
                          "each weighted K times (1 = every step, the paper's)")
    short = parser.add_argument_group("short runs")
    short.add_argument("--max_steps", type=int, default=0,
                       help="stop after this many iterations (0 = run all epochs)")
    short.add_argument("--max_minutes", type=float, default=0.0,
                       help="stop after this many minutes of training (0 = no limit)")
    short.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    resume = parser.add_argument_group("checkpoints and resuming")
    resume.add_argument("--resume", default=None, metavar="CKPT",
                        help="continue a run exactly (networks, optimisers, epoch/step, random "
                             "states, batch order) from a generator_XXXX.pth / generator_last.pth "
                             "(its discriminator_ twin is read from beside it), or 'auto': the "
                             "latest checkpoint in --out, starting afresh when there is none")
    resume.add_argument("--save_every_steps", type=int, default=500,
                        help="also write generator_last.pth / discriminator_last.pth every this "
                             "many iterations, so an interrupted run loses little (0 = only at "
                             "epoch checkpoints and at the end)")
    speed = parser.add_argument_group(
        "speed (same maths: every speed-up keeps the paper's loss values up to float round-off)")
    speed.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=True,
                       help="use the speed-ups; --no-optimize runs the paper's loop as written")
    speed.add_argument("--no_speedup", action="append", default=[], metavar="NAME",
                       choices=SPEEDUPS,
                       help="turn one speed-up off (repeatable): " + "; ".join(
                           "%s: %s" % item for item in SPEEDUPS.items()))
    speed.add_argument("--release_memory", action="store_true",
                       help="glibc: map blocks of 1 MiB or more on their own and return them to "
                            "the system when freed, so resident memory follows what is in use: "
                            "lower peak RSS on CPU (about -0.3 GB at batch 16) for slower "
                            "iterations (page faults; about -30%% it/s on a 2-core Xeon)")
    speed.add_argument("--amp", default="fp32", choices=("fp32", "bf16", "auto"),
                       help="precision of the forward passes: bf16 autocasts them "
                            "(torch.autocast, CPU or CUDA); losses and weights stay float32. "
                            "auto: bf16 where the device computes it in hardware (CUDA; CPUs "
                            "with AVX-512 BF16 or AMX), else fp32, since emulated bf16 is about "
                            "20x slower")
    return parser


def enabled_speedups(args):
    """Names of the speed-ups (:data:`SPEEDUPS`) a ``train.py`` run uses."""
    return frozenset(SPEEDUPS) - set(args.no_speedup) if args.optimize else frozenset()


def parse_train_args(argv=None):
    """Parse ``train.py``'s options, with the chosen ``--recipe``'s values as defaults."""
    parser = train_parser()
    known, _ = parser.parse_known_args(argv)
    parser.set_defaults(**RECIPES[known.recipe])
    return parser.parse_args(argv)


def pretrain_parser():
    """Options of ``pretrain_gcn.py``."""
    parser = _parser("Pre-train the ST-GCN as a classifier of 50-frame pose clips; its frozen "
                     "features give the pose perceptual loss.")
    add_data_args(parser)
    add_device_args(parser)
    parser.add_argument("--out", default=DEFAULT_GCN, help="where to write the weights")
    parser.add_argument("--labels", default=None,
                        help="JSON file {video_id: label}; default: genre from the dataset's "
                             "<stem>_meta.json sidecar when present, else the video id")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam learning rate, cosine-annealed to 0 over the run")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                        help="random per-clip zoom and shift, so the classifier learns motion "
                             "rather than each video's body size and position")
    return parser


def demo_parser():
    """Options of ``get_demo.py``: the original's ``--model --data --count --output``, and songs."""
    parser = _parser("Dance the test clips (ground truth beside generated: skeleton frames, clip "
                     "WAV and poses, in Demo/frame2vid.sh's layout) or any songs given with --audio "
                     "(poses, OpenPose JSON, WAV, and with --video an MP4 with the music).")
    parser.add_argument("--model", default=SHIPPED_GENERATOR,
                        help="generator checkpoint (this project's, or the original release's "
                             "generator_XXXX.pth); the default is the shipped one")
    parser.add_argument("--output", default="./demo_out", help="output folder (created)")
    songs = parser.add_argument_group("songs")
    songs.add_argument("--audio", action="append", default=[], metavar="SONG",
                       help="dance this music file (wav, flac, ogg, mp3, m4a, ..., any length) "
                            "instead of the test clips; repeat for several songs")
    songs.add_argument("--frames", action="store_true",
                       help="also write each song's frames for Demo/frame2vid.sh "
                            "(test clips always get them)")
    clips = add_data_args(parser)
    clips.title = "test clips (without --audio)"
    clips.add_argument("--count", type=int, default=100, help="how many test samples to write")
    video = parser.add_argument_group("video")
    video.add_argument("--video", action="store_true",
                       help="write <name>.mp4: H.264 + AAC music, 10 fps (test clips: ground truth "
                            "beside generated)")
    video.add_argument("--gif", action="store_true", help="write <name>.gif too")
    video.add_argument("--person", default=None, metavar="PERSON_PTH",
                       help="with --audio --video: the MP4 shows this trained person (python -m "
                            "pose2vid.train) dancing, instead of the skeleton")
    video.add_argument("--side-by-side", action="store_true",
                       help="with --person: the skeleton beside the person")
    video.add_argument("--plot", action="store_true",
                       help="write <name>_beats.png: the music's onset strength and beats above "
                            "the dance's joint speed and kinematic beats, on one time axis")
    add_device_args(parser)
    # One torch thread: the generator's GRUs are chains of small steps that more threads do not
    # speed up, ffmpeg encodes on the other cores meanwhile, and on shared cores torch's
    # default threading stalls (a 3-minute song: 9 s to generate with 2 threads, 1.5 s with 1).
    parser.set_defaults(threads=1)
    return parser


def evaluate_parser(description, epilog):
    """Options of ``evaluate.py`` (its docstring gives ``description`` and ``epilog``)."""
    parser = argparse.ArgumentParser(description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    add_device_args(parser)
    parser.add_argument("--model", default=None, help="generator checkpoint (release or project format)")
    parser.add_argument("--poses", default=None, help="folder of <name>.npy pixel poses + <name>.wav music")
    parser.add_argument("--subset", default="test", choices=("test", "train", "all"),
                        help="which part of --data to evaluate (default: the held-out test videos)")
    parser.add_argument("--gcn", default=DEFAULT_GCN, help="frozen ST-GCN classifier (pretrain_gcn.py)")
    parser.add_argument("--embedding", default=DEFAULT_EMBEDDING,
                        help="music-dance embedding; trained on --data's training split when "
                             "missing or stale")
    parser.add_argument("--retrain-embedding", action="store_true", help="train the embedding again")
    parser.add_argument("--samples", type=int, default=5,
                        help="noise draws per music clip for multimodality")
    parser.add_argument("--music-beats", default="librosa", choices=("librosa", "truth"),
                        help="music beats from librosa's tracker or from the synthetic sidecar")
    parser.add_argument("--rhythm", default=None, choices=("librosa", "truth"),
                        help="rhythm features the model hears (default: those it was trained "
                             "with); librosa scores a generator trained on the true beats as "
                             "a user's song would be danced, truth is the oracle")
    parser.add_argument("--sigma", type=float, default=0.1, help="beat alignment Gaussian width (s)")
    parser.add_argument("--tolerance", type=float, default=0.1, help="beat hit tolerance (s)")
    parser.add_argument("--distractors", type=int, default=9,
                        help="distractor music clips per retrieval")
    parser.add_argument("--json", default=None, help="write the report here as JSON")
    parser.add_argument("--plots", default=None, metavar="DIR",
                        help="write a beat plot per scored clip here (<clip>.png: the music's "
                             "onset strength and scoring beats above the model's dance speed and "
                             "kinematic beats, first noise draw)")
    return parser


def bench_parser(description):
    """Options of ``bench.py``."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--amp", "--dtype", nargs="+", default=["fp32"], choices=("fp32", "bf16"),
                        help="precision(s) of the optimised loop; the paper's loop runs in fp32")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads per variant (0 = torch's default)")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations per variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations per variant first")
    parser.add_argument("--infer_clips", type=int, default=5,
                        help="timed single-clip generator passes per variant")
    parser.add_argument("--no_speedup", action="append", default=[], choices=SPEEDUPS,
                        metavar="NAME", help="leave this speed-up out of the optimised loop "
                                             "(repeatable; names as in train.py --help)")
    parser.add_argument("--release_memory", action="store_true",
                        help="run the optimised loop with train.py's --release_memory "
                             "(lower peak RSS, slower)")
    parser.add_argument("--gp_every", type=positive_int, default=1, metavar="K",
                        help="with K > 1, also time the optimised loop at each --amp with "
                             "train.py's --gp_every K (not the paper's maths); one of its "
                             "samples is the mean of K iterations")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def probe_parser(description):
    """Options of ``probe_beat_phase.py``."""
    parser = _parser(description)
    parser.add_argument("--model", default=SHIPPED_GENERATOR, help="generator checkpoint")
    parser.add_argument("--context", type=int, default=4, help="neighbouring frames on each side")
    parser.add_argument("--ridge", type=float, default=10.0, help="ridge penalty")
    add_data_args(parser)
    add_device_args(parser)
    return parser


def probe_genre_parser(description):
    """Options of ``probe_genre.py``."""
    parser = _parser(description)
    parser.add_argument("--model", default=SHIPPED_GENERATOR, help="generator checkpoint")
    parser.add_argument("--gcn", default=DEFAULT_GCN, help="frozen ST-GCN classifier (pretrain_gcn.py)")
    parser.add_argument("--val_videos", type=int, default=4,
                        help="training videos the generator held out for validation (the beat "
                             "recipe's 4): left out of the probe's training clips")
    parser.add_argument("--ridge", type=float, default=10.0, help="ridge penalty of the linear probe")
    parser.add_argument("--scale", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0], metavar="W",
                        help="lengthen the held-out clips' song-level offsets by 1 + W before "
                             "dancing them")
    parser.add_argument("--equalise", type=float, nargs="*", default=[], metavar="F",
                        help="also dance the held-out clips with every offset set to F times the "
                             "training clips' mean offset length")
    parser.add_argument("--subset", default="test", choices=("test", "val"),
                        help="the held-out clips: the test videos, or the --val_videos")
    add_data_args(parser)
    add_device_args(parser)
    return parser


def embedding_parser(description):
    """Options of ``train_embedding.py``."""
    parser = _parser(description)
    add_data_args(parser)
    add_device_args(parser)
    parser.add_argument("--out", default=DEFAULT_EMBEDDING, help="where to write the embedding model")
    parser.add_argument("--epochs", type=int, default=80)
    return parser


def export_parser():
    """Options of ``python -m model.export``."""
    parser = _parser("Write a compact float16 inference copy of a generator or ST-GCN checkpoint.")
    parser.add_argument("network", choices=("generator", "st_gcn"))
    parser.add_argument("sources", nargs="+", metavar="source",
                        help="the checkpoint to export; for a generator, several checkpoints of "
                             "one run are averaged weight by weight into one")
    parser.add_argument("out")
    parser.add_argument("--note", default="", help="how the weights were made")
    parser.add_argument("--code_cap", type=non_negative, default=0.0, metavar="NORM",
                        help="generator: record a cap on each frame's music-code norm for inference "
                             "(as train.py --code_cap; 0: keep what the checkpoint has)")
    parser.add_argument("--genre_gain", type=non_negative, default=0.0, metavar="G",
                        help="generator: record a factor on the genre one-hot that a --genre_input "
                             "generator hears at inference (above 1: the genre danced more "
                             "distinctly; choose it on validation videos; 0: keep what the "
                             "checkpoint has)")
    parser.add_argument("--refresh_bn", action="store_true",
                        help="generator: measure the BatchNorm statistics again on the training "
                             "clips of the run that wrote the checkpoints (its config names them); "
                             "what averaged weights need (model/weight_average.py)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: the cores other processes leave free)")
    return parser


def compat_parser(tolerance):
    """Options of ``python -m model.compat``."""
    parser = _parser("Check this project's networks against outputs recorded with the original "
                     "release's code.")
    parser.prog = "python -m model.compat"
    parser.add_argument("--check", required=True, metavar="DIR",
                        help="folder with generator_state_dict.pt, st_gcn_state_dict.pt, io.pt")
    parser.add_argument("--tolerance", type=float, default=tolerance,
                        help="largest allowed absolute difference")
    return parser


def synthetic_corpus_parser(description):
    """Options of ``python -m dataset.synthetic``."""
    parser = _parser(description)
    parser.add_argument("--out", default=DEFAULT_DATA, help="corpus file to write")
    parser.add_argument("--videos", type=int, default=40, help="number of videos (one song each)")
    parser.add_argument("--clips", type=int, default=4, help="10-s clips per video")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--missing-fraction", type=float, default=0.01,
                        help="fraction of joints written as missing (0, 0)")
    parser.add_argument("--extra-videos", type=int, default=0,
                        help="this many more videos after --videos, never test videos: the corpus "
                             "of --videos and its test list stay the same, with more to train and "
                             "validate on")
    return parser


def synthetic_song_parser(genres):
    """Options of ``python -m dataset.synthetic_music`` (``genres``: the style names)."""
    parser = _parser("Write one song of the synthetic corpus's genres as a 16 kHz WAV (to dance to).")
    parser.add_argument("--out", required=True, help="WAV file to write")
    parser.add_argument("--genre", default=genres[0], choices=genres)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def build_parser(source_fps, min_confidence):
    """Options of ``python -m dataset.build`` (defaults of the frame rate and confidence given)."""
    parser = _parser("Add one dance video (OpenPose JSON folder + its song) to a dataset file in the "
                     "original release's format: 10 s clips of 10 fps COCO-18 poses and 16 kHz audio.")
    parser.prog = "python -m dataset.build"
    parser.add_argument("--openpose", required=True,
                        help="folder of OpenPose *_keypoints.json files, one per frame")
    parser.add_argument("--audio", required=True,
                        help="the song (any format ffmpeg or libsndfile reads)")
    parser.add_argument("--out", required=True, help="dataset file to create or append to")
    parser.add_argument("--video-id",
                        help="key of the new video (default: next free 3-digit id in --out)")
    parser.add_argument("--fps", type=float, default=source_fps,
                        help="frame rate of the video OpenPose ran on; resampled to 10 fps")
    parser.add_argument("--min-confidence", type=float, default=min_confidence,
                        help="joints less confident than this are stored as missing")
    parser.add_argument("--width", type=int,
                        help="source video width in pixels (with --height): rescale to 640x360")
    parser.add_argument("--height", type=int, help="source video height in pixels (with --width)")
    parser.add_argument("--plain-json", action="store_true",
                        help="write a new file as plain JSON instead of the release's double encoding")
    parser.add_argument("--overwrite-video", action="store_true",
                        help="replace the video if --video-id exists")
    return parser


def dataset_cache_bench_parser(description):
    """Options of ``benchmarks/dataset_cache.py``."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="dataset file; default: generate a random one")
    parser.add_argument("--clips", type=int, default=160, help="clips in the generated file")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    return parser


def song_video_bench_parser(description):
    """Options of ``benchmarks/song_to_video.py``."""
    parser = _parser(description)
    parser.add_argument("--model", default=None, help="generator checkpoint (default: random weights)")
    parser.add_argument("--audio", default=None, help="song to dance (default: a synthesized drum track)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the synthesized song")
    parser.add_argument("--output", default=None,
                        help="keep the outputs in this folder (default: a temp folder)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads, as get_demo.py's default (0 = torch's default)")
    return parser


def select_parser():
    """Options of ``select_checkpoint.py``."""
    parser = _parser("Choose a run's generator again from its saved checkpoints, by a held-out "
                     "score: every generator_*.pth in the run folder is scored on the run's own "
                     "held-out clips (its --val_videos, seed and rhythm features, as train.py's "
                     "--eval_every does) and the best is written as generator_selected.pth.")
    parser.add_argument("run", help="a train.py --out folder")
    parser.add_argument("--by", default="beat_genre", choices=SELECTIONS,
                        help="the score to choose by: " + "; ".join(
                            "%s: %s" % item for item in SELECTIONS.items()))
    parser.add_argument("--min_genre", type=float, default=None,
                        help="choose only among the generators whose held-out genre accuracy "
                             "reaches this (all of them, with a warning, when none does)")
    parser.add_argument("--gcn", default=None,
                        help="ST-GCN for genre accuracy (default: the run's --pretrain_GCN)")
    parser.add_argument("--out", default=None,
                        help="where to write the chosen generator (default: "
                             "<run>/generator_selected.pth)")
    add_device_args(parser)
    return parser


def song_check_parser(description):
    """Options of ``python -m metrics.song_check``."""
    parser = _parser(description)
    parser.prog = "python -m metrics.song_check"
    parser.add_argument("--model", default=SHIPPED_GENERATOR, help="generator checkpoint")
    parser.add_argument("--audio", nargs="+", required=True, metavar="SONG",
                        help="songs to dance (any format ffmpeg or libsndfile reads)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="the dancers whose build bone_error compares with: every clip of this "
                             "dataset file ('' leaves the column out)")
    add_device_args(parser)
    parser.set_defaults(threads=1)
    return parser


def app_parser():
    """Options of ``app.py``, the page that dances any song in the browser."""
    parser = _parser("Serve the dance page: drop a song in the browser, watch the skeleton dance it "
                     "with its beat plot, download the MP4, poses and OpenPose JSON. The page uses "
                     "a JSON API (POST /api/dance, GET /api/jobs/ID; README). Jobs run one at a "
                     "time; the others queue.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (loopback: only this machine; 0.0.0.0 opens "
                             "the page to the network)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--model", default=SHIPPED_GENERATOR, help="generator checkpoint")
    parser.add_argument("--person", default=None, metavar="PERSON_PTH",
                        help="a trained person (python -m pose2vid.train): the videos show it "
                             "dancing beside the skeleton")
    parser.add_argument("--max_seconds", type=float, default=600.0,
                        help="longest song accepted, in seconds")
    parser.add_argument("--max_mb", type=float, default=50.0, help="largest upload accepted, in MB")
    parser.add_argument("--keep", type=positive_int, default=20,
                        help="finished jobs whose files are kept; older ones are removed")
    parser.add_argument("--workdir", default=None,
                        help="folder for uploads and results (default: a new temporary folder, "
                             "removed when the server stops)")
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="auto picks CUDA when available")
    group.add_argument("--threads", type=int, default=1,
                       help="CPU threads for torch (one: the generator's GRUs are chains of small "
                            "steps, and ffmpeg encodes on the other cores)")
    return parser


def app_bench_parser(description):
    """Options of ``benchmarks/app_latency.py``."""
    parser = _parser(description)
    parser.add_argument("--model", default=SHIPPED_GENERATOR, help="generator checkpoint")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the synthesized song")
    parser.add_argument("--songs", type=positive_int, default=3, help="songs posted at once")
    return parser


def pose2vid_train_parser():
    """Options of ``python -m pose2vid.train``."""
    parser = _parser("Train the pose-to-frame network (pix2pixHD-style, with Everybody Dance Now's "
                     "temporal smoothing) on one subject's video and poses.")
    parser.add_argument("--subject", required=True,
                        help="subject folder: video.mp4 and poses/ (OpenPose JSON) or poses.npy "
                             "(python -m pose2vid.default_subject writes the built-in one)")
    parser.add_argument("--out", default="pretrain_model/person.pth",
                        help="the trained generator, float16 (what get_demo.py --person loads)")
    parser.add_argument("--work", default="log/person",
                        help="folder for the training state (last.pth, for --resume) and tensorboard")
    parser.add_argument("--resume", action="store_true", help="continue from --work/last.pth")
    parser.add_argument("--size", type=positive_int, default=128,
                        help="working resolution: the square crop around the subject, in pixels "
                             "(a multiple of 16)")
    parser.add_argument("--width", type=positive_int, default=16,
                        help="generator's first-layer channels (16: 2.0 M parameters, 4 MB in float16)")
    parser.add_argument("--blocks", type=positive_int, default=6, help="generator's residual blocks")
    parser.add_argument("--coordinates", action=argparse.BooleanOptionalAction, default=True,
                        help="the generator also sees each pixel's x and y (CoordConv), so the "
                             "static background stays where it is")
    parser.add_argument("--scales", type=positive_int, default=2, help="discriminator scales")
    parser.add_argument("--batch_size", type=positive_int, default=4, help="frame pairs per iteration")
    parser.add_argument("--iterations", type=positive_int, default=100_000,
                        help="stop after this many iterations")
    parser.add_argument("--max_minutes", type=non_negative, default=50.0,
                        help="stop after this many minutes of training (0 = no limit)")
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (pix2pixHD's)")
    parser.add_argument("--lambda_fm", type=non_negative, default=10.0,
                        help="weight of discriminator feature matching (pix2pixHD's)")
    parser.add_argument("--lambda_rec", type=non_negative, default=10.0,
                        help="weight of the reconstruction term, L1 + (1 - SSIM), which stands in "
                             "for pix2pixHD's VGG term")
    parser.add_argument("--ssim_weight", type=non_negative, default=1.0,
                        help="weight of (1 - SSIM) inside the reconstruction term (0: L1 alone)")
    parser.add_argument("--held_out", type=probability, default=0.1,
                        help="the last share of the video left out of training, for measures")
    parser.add_argument("--save_every", type=positive_int, default=500,
                        help="write the training state every this many iterations")
    parser.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp32"),
                        help="bf16 autocast where the hardware has it (auto), or not")
    add_device_args(parser)
    return parser


def default_subject_parser():
    """Options of ``python -m pose2vid.default_subject``."""
    parser = _parser("Write the built-in Pose2Vid subject: a synthetic person dancing the corpus "
                     "dancers' moves (video.mp4 and poses/ OpenPose JSON).")
    parser.add_argument("--out", default="log/subject", help="subject folder to write")
    parser.add_argument("--data", default="dataset/synthetic.json", help="corpus whose dances it dances")
    parser.add_argument("--frames", type=positive_int, default=3000, help="frames (10 per second)")
    parser.add_argument("--held_out", type=probability, default=0.1,
                        help="share of the frames, at the end, danced from the held-out test videos "
                             "(pose2vid.train's --held_out)")
    return parser


def pose_detect_parser():
    """Options of ``python -m pose2vid.detect``."""
    parser = _parser("Make a Pose2Vid subject folder from a video alone: MediaPipe Pose finds the "
                     "person's joints in every frame (optional dependency: make detector).")
    parser.add_argument("--video", required=True, help="the subject's video (anything ffmpeg reads)")
    parser.add_argument("--out", required=True,
                        help="subject folder to write: video.mp4 (a copy) and poses.npy, for "
                             "python -m pose2vid.train --subject")
    parser.add_argument("--min_visibility", type=probability, default=0.5,
                        help="a joint the detector sees with less confidence than this is missing")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the poses and video already in --out")
    return parser


def person_measure_parser():
    """Options of ``python -m pose2vid.measure``."""
    parser = _parser("Measure a trained person: PSNR and SSIM on the subject's held-out frames and "
                     "on a generated dance (against the built-in subject's renderer), temporal "
                     "stability and seconds per frame.")
    parser.add_argument("--person", default="pretrain_model/person.pth", help="trained person")
    parser.add_argument("--subject", required=True, help="the subject folder it was trained on")
    parser.add_argument("--held_out", type=probability, default=0.1,
                        help="the share at the end of the subject's video left out of training "
                             "(pose2vid.train's --held_out)")
    parser.add_argument("--dance", default=None, help="poses of a generated dance (get_demo.py's .npy)")
    parser.add_argument("--max_frames", type=positive_int, default=600,
                        help="the dance's first frames to measure")
    parser.add_argument("--json", default=None, help="write the rows here as JSON")
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    group.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = automatic)")
    return parser
