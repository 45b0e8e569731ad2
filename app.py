"""Serve the dance page: drop a song in the browser, watch the dance, download it.

    python app.py                       # http://127.0.0.1:7860, the shipped generator
    python app.py --model log/x/generator_best.pth --port 8000 --host 0.0.0.0
    python app.py --person pretrain_model/person.pth     # a person dances beside the skeleton

The generator is loaded once; songs are danced one at a time, the others wait in a queue whose
position the page shows. Uploads and results live in a temporary folder (``--workdir``), the
newest ``--keep`` jobs' files are kept, and the folder is removed when the server stops. The
page's JSON API is described in the README.
"""

import contextlib
import logging
import shutil
import sys
import tempfile

from config import app_parser
from runtime import report_errors, resolve_device, set_threads
from webapp.dancer import Dancer
from webapp.jobs import JobQueue
from webapp.server import create_app


def serve(argv=None):
    import uvicorn

    args = app_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    set_threads(args.threads)
    dancer = Dancer(args.model, resolve_device(args.device), args.person)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="dance-synth-app-")
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        jobs = JobQueue(workdir, dancer, keep=args.keep)
        app = create_app(jobs, genres=dancer.genres, max_seconds=args.max_seconds,
                         max_bytes=int(args.max_mb * 2**20))
        print(f"dancing with {args.model}; open http://{args.host}:{args.port} (Ctrl+C stops)")
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def main(argv=None):
    return report_errors(serve, argv)


if __name__ == "__main__":
    sys.exit(main())
