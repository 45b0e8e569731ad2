#!/bin/bash
# A one-shot quality experiment for a lent GPU (issue "Dance on the beat", docs/experiments.md
# section 21): four lineages of --recipe beat (seeds 1 and 2, with and without --rhythm_tempo)
# train to step P1, each is copied, and the copies continue side by side with and without
# --code_shrink 0.5 until the time budget leaves EVALSEC seconds. Each of the 8 runs keeps the
# generator with the best validation beat + genre score (--select beat_genre); evaluate.py then
# scores those on the test clips (--music-beats truth). Results land in $OUT: train_results.tar.gz
# (logs, heldout.jsonl curves, evaluation JSON, the validation ranking) and the three best-ranked
# generators (float16 inference copies, as shipped) as a tar split into 15 MB parts (ck.tar.part-*).
#
# The device machine has PyTorch but not librosa or tensorboardX, and the working tree may not
# carry the 137 MB corpus. Prepare here, in the repo root:
#   echo /.whl/ >> .git/info/exclude
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl librosa==0.11.0 \
#     audioread==3.1.0 decorator==5.3.1 pooch==1.9.0 platformdirs==4.14.9 soundfile==0.14.0 \
#     cffi==2.1.1 pycparser==3.12 soxr==1.1.0 tensorboardX==2.6.5
#   make corpus && python evaluate.py ...   # any command that writes the librosa rhythm cache
# then run `bash docs/gpu_fork_experiment.sh` there, carrying .whl and
# dataset/synthetic.json.rhythm-librosa.npz. The corpus is generated there again and given the
# size and mtime that the carried cache was stamped with; if its size differs, the cache is
# rebuilt there (about a minute). Dry run on CPU (tiny), in a scratch copy of the checkout, since
# it writes log/ there:
#   OUT=/tmp/dry DEV=cpu P1=4 EVERY=2 GS=1 THREADS1=1 THREADS2=1 P2MIN=0.4 EVALSEC=0 \
#     PY=.venv/bin/python bash docs/gpu_fork_experiment.sh
set -u
T0=$(date +%s)
DEV=${DEV:-cuda}; P1=${P1:-700}; EVERY=${EVERY:-100}; GS=${GS:-7}
TH1=${THREADS1:-4}; TH2=${THREADS2:-2}; BUDGET=${BUDGET:-555}; EVALSEC=${EVALSEC:-110}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
R=/tmp/fork_res; rm -rf $R; mkdir -p $R $OUT  # tarred into $OUT, which takes 8 files at most
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a $R/timeline.txt; }
if [ -d .whl ] && [ "$DEV" = cuda ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
fi
log "python $($PY -c 'import torch,numpy,librosa;print(torch.__version__,numpy.__version__,librosa.__version__,torch.cuda.is_available())')"
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader >> $R/timeline.txt 2>&1
# corpus, then give it the size/mtime the carried rhythm cache was stamped with
[ -f dataset/synthetic.json ] || $PY -m dataset.synthetic --out dataset/synthetic.json > $R/corpus.log 2>&1
$PY - <<'PYEOF' >> $R/timeline.txt 2>&1
import os, numpy as np
p = "dataset/synthetic.json"; c = p + ".rhythm-librosa.npz"
st = np.load(c)["stamp"]
print("corpus size", os.path.getsize(p), "cache stamp", st.tolist())
if os.path.getsize(p) == st[0]:
    os.utime(p, ns=(int(st[1]), int(st[1]))); print("stamp matched: mtime set")
else:
    print("SIZE DIFFERS: rhythm cache will be rebuilt")
PYEOF
log "corpus ready"
# build the dataset/rhythm caches once and compile librosa's numba kernels once, into one shared cache
export NUMBA_CACHE_DIR=/tmp/numba_shared
$PY - <<'PYEOF' >> $R/prep.log 2>&1
import numpy as np
from dataset.dance_dataset import DanceDataset
from metrics import beats
ds = DanceDataset("dataset/synthetic.json", split="train", rhythm="librosa", fill_missing=True)
print("train samples", len(ds))
t = np.arange(16000 * 5) / 16000; y = (np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
print("tempo", beats.music_tempo(y), "beats", len(beats.music_beats(y)))
PYEOF
log "prep done: $(tail -2 $R/prep.log | tr '\n' ' ')"
run() { # name threads extra...
  local name=$1 th=$2; shift 2
  rm -rf /tmp/numba_$name; cp -r /tmp/numba_shared /tmp/numba_$name 2>/dev/null
  NUMBA_CACHE_DIR=/tmp/numba_$name $PY train.py --data dataset/synthetic.json --recipe beat --device $DEV --threads $th --gap_save $GS \
      --eval_every $EVERY --select beat_genre --out log/$name "$@" >> $R/$name.log 2>&1
}
# phase 1: 4 lineages
for s in 1 2; do
  run b_s$s $TH1 --seed $s --max_steps $P1 &
  run t_s$s $TH1 --seed $s --rhythm_tempo --max_steps $P1 &
done
( $PY -c "from model.music_dance_embedding import load_or_train; load_or_train('pretrain_model/embedding.pth','dataset/synthetic.json','auto',0,'$DEV')" > $R/embedding.log 2>&1 ) &
wait
log "phase 1 done"; grep -h "done:" $R/*.log | tee -a $R/timeline.txt
# phase 2: fork each lineage into plain / --code_shrink 0.5
for L in b_s1 b_s2 t_s1 t_s2; do cp -r log/$L log/${L}_k; done
NOW=$(date +%s); P2=$(( BUDGET - EVALSEC - (NOW - T0) )); P2MIN=${P2MIN:-$($PY -c "print(round($P2 / 60, 2))")}
log "phase 2: $P2MIN minutes"
for s in 1 2; do
  run b_s$s $TH2 --seed $s --resume auto --max_minutes $P2MIN &
  run b_s${s}_k $TH2 --seed $s --resume auto --code_shrink 0.5 --max_minutes $P2MIN &
  run t_s$s $TH2 --seed $s --rhythm_tempo --resume auto --max_minutes $P2MIN &
  run t_s${s}_k $TH2 --seed $s --rhythm_tempo --resume auto --code_shrink 0.5 --max_minutes $P2MIN &
done
wait
log "phase 2 done"; grep -h "done:" $R/*.log | tee -a $R/timeline.txt
for L in log/*/; do n=$(basename $L); cp $L/heldout.jsonl $R/$n.heldout.jsonl 2>/dev/null; done
tar czf $OUT/train_results.tar.gz -C /tmp fork_res
# test-clip scores of each run's chosen (beat_genre) generator
for L in log/*/; do
  n=$(basename $L)
  rm -rf /tmp/numba_e$n; cp -r /tmp/numba_shared /tmp/numba_e$n 2>/dev/null
  ( NUMBA_CACHE_DIR=/tmp/numba_e$n $PY evaluate.py --model $L/generator_best.pth --data dataset/synthetic.json --gcn pretrain_model/GCN.pth \
      --music-beats truth --device $DEV --threads 2 --json $R/$n.best.eval.json > $R/$n.best.eval.log 2>&1 ) &
done
wait
log "best evals done"
$PY - <<'PYEOF' > $R/ranking.txt 2>&1
import glob, torch
from metrics.heldout import selection_score
rows = []
for p in sorted(glob.glob("log/*/generator_best.pth")):
    c = torch.load(p, map_location="cpu", weights_only=False)
    rows.append((selection_score(c["heldout"], "beat_genre"), c["step"], p))
rows.sort(reverse=True)
seen = set()
for r in rows:
    print("%.4f %5d %s%s" % (*r, "" if r[:2] not in seen else " dup"))
    seen.add(r[:2])
PYEOF
cat $R/ranking.txt >> $R/timeline.txt
rm -rf /tmp/ck; mkdir -p /tmp/ck
for p in $(awk 'NF==3{print $3}' $R/ranking.txt | head -3); do
  n=$(basename $(dirname $p))
  $PY -m model.export generator $p /tmp/ck/$n.generator_best.pth --note "gpu_fork_experiment.sh $n, best by beat_genre" > /dev/null
done
tar cf /tmp/ck.tar -C /tmp/ck . && split -b 15M /tmp/ck.tar $OUT/ck.tar.part-
log "packed"
tar czf $OUT/train_results.tar.gz -C /tmp fork_res
