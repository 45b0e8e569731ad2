"""Facts of the original dataset format: timing and sizes shared by every module.

Poses run at 10 fps and audio at 16 kHz mono, so one pose frame spans 1600 audio
samples (0.1 s). A stored clip is 10 s (100 frames, 160000 samples); a training
sample is half a clip, 5 s (50 frames, 80000 samples).
"""

FPS = 10
SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 1600

SAMPLE_FRAMES = 50  # frames in one training sample (5 s)
SAMPLE_SECONDS = SAMPLE_FRAMES / FPS
CLIP_FRAMES = 100  # frames in one stored clip (10 s)
CLIP_SAMPLES = CLIP_FRAMES * SAMPLES_PER_FRAME  # 160000
SAMPLES_PER_CLIP = CLIP_FRAMES // SAMPLE_FRAMES  # 2 training samples per clip

INT16_MAX = 32767
NOISE_DIM = 10  # generator noise features per frame
NOISE_STD = 0.33
