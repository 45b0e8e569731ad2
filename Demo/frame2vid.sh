#!/usr/bin/env bash
# frame2vid.sh: numbered PNG frames + a WAV -> one MP4 per sample (10 fps H.264 yuv420p, AAC audio).
#
# Usage: Demo/frame2vid.sh [--fps N] DIR [DIR ...]
#
# Layout (what get_demo.py writes): every sample is a folder holding its frames and its audio,
#
#   DIR/<sample>/frames/0000.png, 0001.png, ...   zero-padded, consecutive, all the same width
#                                                 (4 digits, or more for longer songs)
#   DIR/<sample>/<sample>.wav                     the sample's music (else the folder's only .wav)
#   -> DIR/<sample>.mp4
#
# Each DIR is either a folder of such samples or one sample folder itself (DIR/frames/...,
# giving DIR/../<sample>.mp4). A sample without a WAV becomes a silent video (with a warning).
# Videos end with the shorter of frames and audio. Each MP4 is written to a temp file and
# renamed, so an interrupted or failed run leaves no partial MP4.
#
# ffmpeg: `ffmpeg` on PATH, else the static binary of the imageio-ffmpeg Python package, found
# through $PYTHON, else the repository's .venv/bin/python, else python3.
set -euo pipefail
shopt -s nullglob

FPS=10

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "frame2vid.sh: $*" >&2
  exit 1
}

find_ffmpeg() {
  if command -v ffmpeg >/dev/null 2>&1; then
    command -v ffmpeg
    return
  fi
  local here python candidate
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  for candidate in "${PYTHON:-}" "$here/../.venv/bin/python" python3; do
    [ -n "$candidate" ] || continue
    python="$(command -v "$candidate" 2>/dev/null)" || continue
    if "$python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())' 2>/dev/null; then
      return
    fi
  done
  die "ffmpeg not found: install it (apt-get install ffmpeg, brew install ffmpeg, conda install ffmpeg)" \
      "or the Python package imageio-ffmpeg (pip install imageio-ffmpeg; set PYTHON to the python that has it)"
}

# encode_sample SAMPLE_DIR: SAMPLE_DIR/frames/*.png + its WAV -> SAMPLE_DIR/../<name>.mp4
encode_sample() {
  local sample="${1%/}" name start digits wav out tmp
  local -a frames wavs
  name="$(basename "$sample")"
  frames=("$sample"/frames/*.png)
  [ ${#frames[@]} -gt 0 ] || { echo "frame2vid.sh: skipping $sample: no PNG frames in $sample/frames" >&2; return 1; }
  start="$(basename "${frames[0]}" .png)"
  if ! [[ "$start" =~ ^[0-9]+$ ]]; then
    echo "frame2vid.sh: skipping $sample: frame ${frames[0]} is not named like 0000.png" >&2
    return 1
  fi
  digits=${#start}

  wav="$sample/$name.wav"
  if [ ! -f "$wav" ]; then
    wavs=("$sample"/*.wav)
    case ${#wavs[@]} in
      0) wav="" ;;
      1) wav="${wavs[0]}" ;;
      *) echo "frame2vid.sh: skipping $sample: several WAV files and none named $name.wav" >&2; return 1 ;;
    esac
  fi

  out="$(dirname "$sample")/$name.mp4"
  tmp="$(dirname "$sample")/.$name.mp4.$$.part"
  local -a audio_in=() audio_out=()
  if [ -n "$wav" ]; then
    audio_in=(-i "$wav")
    audio_out=(-map 0:v:0 -map 1:a:0 -c:a aac -aac_coder fast -b:a 128k -shortest)
  else
    echo "frame2vid.sh: warning: no WAV in $sample, writing a silent video" >&2
  fi

  TMP_FILE="$tmp"
  if "$FFMPEG" -nostdin -hide_banner -v error -y \
      -framerate "$FPS" -start_number "$((10#$start))" -i "$sample/frames/%0${digits}d.png" \
      ${audio_in[@]+"${audio_in[@]}"} ${audio_out[@]+"${audio_out[@]}"} \
      -vf 'pad=ceil(iw/2)*2:ceil(ih/2)*2' -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p \
      -movflags +faststart -f mp4 "$tmp"; then
    mv -f "$tmp" "$out"
    TMP_FILE=""
    echo "$out"
  else
    rm -f "$tmp"
    TMP_FILE=""
    echo "frame2vid.sh: ffmpeg failed on $sample" >&2
    return 1
  fi
}

TMP_FILE=""
trap '[ -z "$TMP_FILE" ] || rm -f "$TMP_FILE"' EXIT
trap 'exit 130' INT TERM

dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --fps) [ $# -ge 2 ] || die "--fps needs a value"; FPS="$2"; shift 2 ;;
    --) shift; dirs+=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ ${#dirs[@]} -gt 0 ] || { usage >&2; exit 2; }

FFMPEG="$(find_ffmpeg)"
failures=0
made=0
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || { echo "frame2vid.sh: not a folder: $dir" >&2; failures=$((failures + 1)); continue; }
  if [ -d "$dir/frames" ]; then
    samples=("$dir")
  else
    samples=()
    for candidate in "$dir"/*/; do
      [ -d "${candidate}frames" ] && samples+=("${candidate%/}")
    done
  fi
  if [ ${#samples[@]} -eq 0 ]; then
    echo "frame2vid.sh: no samples in $dir (expected $dir/<sample>/frames/0000.png ...; see --help)" >&2
    failures=$((failures + 1))
    continue
  fi
  for sample in "${samples[@]}"; do
    if encode_sample "$sample"; then made=$((made + 1)); else failures=$((failures + 1)); fi
  done
done

echo "frame2vid.sh: $made video(s) written, $failures problem(s)" >&2
[ "$failures" -eq 0 ]
