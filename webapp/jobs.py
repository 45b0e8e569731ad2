"""A queue of dance jobs, run one at a time by one worker thread.

Each job owns a folder named by its random id under the queue's root: the server writes the
checked song there before the job is queued, the worker writes the results beside it. Only the
``keep`` newest finished jobs keep their folders; older ones are removed (with their records)
whenever a job finishes.
"""

import logging
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dataset.errors import DanceSynthError

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed")


@dataclass
class Job:
    """One song to dance. ``options``: what the worker's ``work`` function takes besides the job."""
    id: str
    folder: Path
    options: dict
    state: str = "queued"
    progress: float = 0.0
    error: str = ""
    finished: float = 0.0
    outputs: dict = field(default_factory=dict)  # file kind -> path, once done


class JobQueue:
    """Jobs in, one worker out: ``work(job, report)`` does a job, calling ``report(fraction)``
    as it goes, and returns ``{kind: path}`` of what it wrote.

    A :class:`DanceSynthError` fails the job with its message; any other exception fails it
    with a generic one (the traceback goes to the log, not to the client).
    """

    def __init__(self, root, work, keep=20):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.work = work
        self.keep = keep
        self._jobs = {}
        self._waiting = []  # ids in queue order
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="dance-worker", daemon=True)
        self._worker.start()

    def new_folder(self):
        """A fresh job id and its empty folder, for the server to write the upload into."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def submit(self, job_id, folder, **options):
        """Queue a job whose folder :meth:`new_folder` made; returns the job."""
        job = Job(job_id, Path(folder), options)
        with self._lock:
            self._jobs[job_id] = job
            self._waiting.append(job_id)
        self._queue.put(job_id)
        return job

    def get(self, job_id):
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def status(self, job_id):
        """``{"state", "progress", "position", "error"}`` of a job (None if unknown); ``position``
        is 1 for the next job to run, 0 for a running or finished one."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            position = self._waiting.index(job_id) + 1 if job_id in self._waiting else 0
            return {"state": job.state, "progress": round(job.progress, 3), "position": position,
                    "error": job.error}

    def _run(self):
        while True:
            job_id = self._queue.get()
            with self._lock:
                self._waiting.remove(job_id)
                job = self._jobs[job_id]
                job.state = "running"
            try:
                outputs = self.work(job, lambda fraction: setattr(job, "progress", min(max(fraction, 0.0), 1.0)))
            except DanceSynthError as err:
                self._finish(job, "failed", error=str(err).splitlines()[0])
            except Exception:  # noqa: BLE001 - the server must go on serving
                log.exception("job %s failed", job_id)
                self._finish(job, "failed", error="internal error while dancing this song")
            else:
                self._finish(job, "done", outputs=outputs)

    def _finish(self, job, state, error="", outputs=None):
        with self._lock:
            job.outputs = outputs or {}
            job.error = error
            job.progress = 1.0 if state == "done" else job.progress
            job.finished = time.time()
            job.state = state
            finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.finished)
            for old in finished[:max(0, len(finished) - self.keep)]:
                del self._jobs[old.id]
                shutil.rmtree(old.folder, ignore_errors=True)
