# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= dataset/synthetic.json
DEMO ?= demo_out
# make demo's budget on 2 CPU cores: a short ST-GCN pre-training and a few minutes of GAN training
DEMO_GCN_EPOCHS ?= 4
DEMO_TRAIN_MINUTES ?= 6
SHIPPED ?= pretrain_model/generator.pth
PERSON ?= pretrain_model/person.pth

.PHONY: venv detector demo corpus app test test-all clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# optional: MediaPipe Pose for `python -m pose2vid.detect` (poses from a video alone). 0.10.14 is
# the last wheel that holds its pose model; without its dependencies, which would bring a second
# OpenCV and jax, and with the protobuf its generated code needs (tensorboardX works with it too)
detector: $(VENV)/.detector

$(VENV)/.detector: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps mediapipe==0.10.14 absl-py flatbuffers "protobuf>=4.25.3,<5"
	touch $@

corpus: $(DATA)

$(DATA): | venv
	$(PY) -m dataset.synthetic --out $(DATA)

# corpus -> a short ST-GCN pre-training and GAN run (the pipeline end to end), then videos of a
# held-out clip (ground truth | generated) and of a whole song, danced by the shipped generator,
# the song also by the shipped person
demo: corpus
	$(PY) pretrain_gcn.py --data $(DATA) --out $(DEMO)/GCN.pth --epochs $(DEMO_GCN_EPOCHS)
	$(PY) train.py --data $(DATA) --pretrain_GCN $(DEMO)/GCN.pth --out $(DEMO)/run \
		--max_minutes $(DEMO_TRAIN_MINUTES)
	$(PY) get_demo.py --model $(DEMO)/run/generator_last.pth --data $(DATA) --count 1 --video \
		--output $(DEMO)/short_run
	$(PY) -m dataset.synthetic_music --out $(DEMO)/song.wav --genre house --seconds 30 --seed 1
	$(PY) get_demo.py --model $(SHIPPED) --data $(DATA) --count 1 --video --output $(DEMO)/test_clip
	$(PY) get_demo.py --model $(SHIPPED) --audio $(DEMO)/song.wav --video --output $(DEMO)/song
	$(PY) get_demo.py --model $(SHIPPED) --audio $(DEMO)/song.wav --person $(PERSON) --video \
		--side-by-side --output $(DEMO)/person
	@echo "videos: $(DEMO)/test_clip/*.mp4 (ground truth | generated), $(DEMO)/song/song.mp4 and"
	@echo "        $(DEMO)/person/song.mp4 (the synthetic person dancing it beside the skeleton);"
	@echo "        $(DEMO)/short_run/*.mp4 from the generator this demo trained for $(DEMO_TRAIN_MINUTES) min"

# the dance page at http://127.0.0.1:7860 (app.py --help for the port, model and limits)
app: venv
	$(PY) app.py

test: venv
	$(PY) -m pytest -q

test-all: venv
	$(PY) -m pytest -q -m "slow or not slow"

clean:
	rm -rf log runs demo_out .pytest_cache
