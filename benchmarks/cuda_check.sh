#!/bin/bash
# One call's check of the CUDA path on a lent GPU machine, for the shipped recipe
# (--recipe beat --genre_input --code_hold --pose_output bones; the shipped run also had
# --code_shrink 0.5, a training-only option without parameters, removed after commit 1fc2e5f).
# Writes to $OUT:
#   timeline.txt     versions, each stage's result and time
#   pytest.log       the default test suite (CUDA visible; 6 xdist workers)
#   eval_cuda.json   the shipped generator's evaluate.py scores on the test clips, on CUDA,
#   eval_cpu.json    and on the CPU, to compare
#   corpus.log       the corpus written there
#   song.txt         the same song danced on CUDA and on the CPU: largest joint difference
#   train.txt        iterations per second of the shipped recipe's training on CUDA: fp32 and bf16
#                    alone, then 4 fp32 runs side by side
#
# The device machine has PyTorch but neither librosa nor tensorboardX. Prepare, in the repo root:
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl librosa==0.11.0 \
#     audioread==3.1.0 decorator==5.3.1 pooch==1.9.0 platformdirs==4.14.9 soundfile==0.14.0 \
#     cffi==2.1.1 pycparser==3.12 soxr==1.1.0 tensorboardX==2.6.5
# and run `bash benchmarks/cuda_check.sh` there, carrying .whl (ffmpeg's wheel is too large to
# carry, so the tests that encode video fail there). The device tool returns at most 8 files,
# so the other logs stay in /tmp there. STEPS (default 150) sets the training
# length; DEV=cpu STEPS=4 SKIP_TESTS=1 is a dry run on a machine without CUDA.
set -u
T0=$(date +%s)
PY=${PY:-python3}; DEV=${DEV:-cuda}; STEPS=${STEPS:-150}; OUT=${OUT:-/tmp/cuda_check}
RECIPE="--recipe beat --genre_input --code_hold --pose_output bones"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/timeline.txt"; }
if [ -d .whl ] && [ "$DEV" = cuda ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
  # There, a process that loads librosa's beat tracker from numba's cache, as another process
  # wrote it, crashes (segmentation fault in the gufunc call): each process compiles its own.
  echo 'import os; os.environ["NUMBA_CACHE_DIR"] = "/tmp/numba_%d" % os.getpid()' > /tmp/site/sitecustomize.py
fi
log "$($PY -c 'import sys,torch,numpy,librosa;print("python",sys.version.split()[0],"torch",torch.__version__,
"numpy",numpy.__version__,"librosa",librosa.__version__,"cuda",torch.cuda.is_available() and torch.cuda.get_device_name())')"
[ -f dataset/synthetic.json ] || $PY -m dataset.synthetic --out dataset/synthetic.json > "$OUT/corpus.log" 2>&1
log "corpus ready"

if [ -z "${SKIP_TESTS:-}" ]; then  # beside the next stages, on 6 of the 16 cores
  timeout 300 $PY -m pytest -q -n 6 -p no:cacheprovider > "$OUT/pytest.log" 2>&1 &
  TESTS=$!
fi

# the rhythm cache and evaluate.py's music-dance embedding, once, before two processes would
# both write them
$PY -c "from dataset.dance_dataset import DanceDataset; DanceDataset('dataset/synthetic.json', split='test', rhythm='librosa')
from model.music_dance_embedding import load_or_train; load_or_train('pretrain_model/embedding.pth', 'dataset/synthetic.json', device='$DEV')" \
  > /tmp/prepare.log 2>&1
log "rhythm cache and embedding ready"
DEVICES=$(printf "%s\n" "$DEV" cpu | sort -u)
for dev in $DEVICES; do
  $PY evaluate.py --model pretrain_model/generator.pth --data dataset/synthetic.json \
    --gcn pretrain_model/GCN.pth --music-beats truth --device $dev --threads 4 \
    --json "$OUT/eval_$dev.json" > "/tmp/eval_$dev.log" 2>&1 &
  EVALS="${EVALS:-} $!"
done
wait $EVALS
log "evaluate: $(tr '\r' '\n' < "/tmp/eval_$DEV.log" | tail -4 | tr '\n' ' ')"

$PY -m dataset.synthetic_music --out /tmp/song.wav --genre house --seconds 30 --seed 1 > /dev/null
for dev in $DEVICES; do
  $PY get_demo.py --audio /tmp/song.wav --device $dev --threads 4 --output /tmp/song_$dev > /dev/null 2>&1
done
$PY - "$DEV" > "$OUT/song.txt" 2>&1 <<'PYEOF'
import glob, sys, numpy as np
a, b = (np.load(glob.glob(f"/tmp/song_{d}/*.npy")[0]) for d in (sys.argv[1], "cpu"))
print(f"song poses {a.shape}: largest joint difference {sys.argv[1]} vs cpu {np.abs(a - b).max():.4f} px, "
      f"median step {np.median(np.linalg.norm(np.diff(a, axis=0), axis=-1)):.2f} px")
PYEOF
log "song: $(cat "$OUT/song.txt")"

if [ -n "${TESTS:-}" ]; then
  wait $TESTS; log "pytest rc $?: $(tail -1 "$OUT/pytest.log")"
  grep -E "^(FAILED|ERROR)" "$OUT/pytest.log" | head -30 >> "$OUT/timeline.txt"
fi

speed() {  # name amp seed
  $PY train.py --data dataset/synthetic.json $RECIPE --device $DEV --amp $2 --seed $3 \
    --max_steps $STEPS --threads 2 --out /tmp/run_$1 > "/tmp/train_$1.log" 2>&1
  echo "$1: $(grep -h 'done:' /tmp/train_$1.log || tail -3 /tmp/train_$1.log)" >> "$OUT/train.txt"
}
late() { [ $(( $(date +%s) - T0 )) -gt "${SPEED_BY:-420}" ] && log "skipped $1: past ${SPEED_BY:-420} s"; }
speed fp32 fp32 1; log "$(tail -1 "$OUT/train.txt")"
late bf16 || { speed bf16 bf16 1; log "$(tail -1 "$OUT/train.txt")"; }
late "side by side" || {
  for s in 1 2 3 4; do speed side$s fp32 $s & done
  wait
  log "side by side: $(grep side "$OUT/train.txt" | tr '\n' ' ')"
}
log "finished"
