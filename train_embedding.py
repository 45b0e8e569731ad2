"""Train the music-dance embedding that ``evaluate.py`` uses for its retrieval metric.

The model and its contrastive training are in ``model/music_dance_embedding.py``;
``evaluate.py`` trains it on its own when the file is missing or was trained on other data.

    python train_embedding.py --data dataset/synthetic.json --out pretrain_model/embedding.pth
"""

import logging
import sys

from config import embedding_parser
from model.music_dance_embedding import train_and_save
from runtime import report_errors, resolve_device, set_threads


def train_embedding(argv=None):
    args = embedding_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    train_and_save(args.data, args.out, args.split, args.seed, resolve_device(args.device), args.epochs)


def main(argv=None):
    return report_errors(train_embedding, argv)


if __name__ == "__main__":
    sys.exit(main())
