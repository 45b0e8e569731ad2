"""The page and its JSON API (FastAPI).

    GET  /                      the page (webapp/static/index.html, its script and style)
    GET  /api/info              the limits and the model's genres, for the page
    POST /api/dance             multipart ``song`` (+ form ``seed``, ``genre``) -> 202 {"job": ID}
    GET  /api/jobs/ID           {"state", "progress", "position", "error"} (+ "files" when done)
    GET  /api/jobs/ID/FILE      dance.mp4, beats.png, poses.npy or dance.zip

Every error is a 4xx (or a 500) with ``{"error": "<one line>"}``. The upload is streamed to a
file named by the server in the job's folder, its size capped while it arrives, and decoded and
checked before it is queued; nothing the client names (file name, path, job id) reaches the
file system except through a fixed table of names.
"""

import logging
import re
import shutil
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from webapp.dancer import OUTPUTS, SongError, SongTooLongError, check_song

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
JOB_ID = re.compile(r"[0-9a-f]{32}")
CHUNK = 1 << 20
MAX_SEED = 2**31 - 1
DOWNLOADS = {name: kind for kind, name in OUTPUTS.items()}
MEDIA_TYPES = {"video": "video/mp4", "plot": "image/png", "poses": "application/octet-stream",
               "zip": "application/zip"}


class ApiError(Exception):
    """A request the API refuses: an HTTP status and a one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _one_line(text):
    return " ".join(str(text).split())[:300]


def _form_int(text, name, low, high):
    """A form field as an int in [low, high], or None when empty; :class:`ApiError` otherwise."""
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {_one_line(text)[:40]!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def create_app(jobs, genres=0, max_seconds=600.0, max_bytes=50 * 2**20):
    """The FastAPI app over a :class:`webapp.jobs.JobQueue` whose worker dances the songs.

    ``genres``: how many genres the model can be asked for (0: none, the music decides).
    """
    app = FastAPI(title="dance-synth", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def api_error(_request, err):
        return JSONResponse({"error": _one_line(err)}, status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(_request, err):
        return JSONResponse({"error": _one_line(err.detail)}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request, err):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": _one_line(f"{where}: {first.get('msg', 'invalid')}")}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(_request, err):
        log.error("internal error: %r", err, exc_info=err)
        return JSONResponse({"error": "internal server error"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    def info():
        return {"max_seconds": max_seconds, "max_mb": round(max_bytes / 2**20, 1), "genres": genres,
                "max_seed": MAX_SEED}

    @app.post("/api/dance", status_code=202)
    def dance(song: UploadFile = File(...), seed: str = Form(None), genre: str = Form(None)):
        seed_value = _form_int(seed, "seed", 0, MAX_SEED)
        if genre is not None and genre.strip() and not genres:
            raise ApiError(400, "this model has no genre input: leave genre empty")
        genre_value = _form_int(genre, "genre", 0, genres - 1)
        job_id, folder = jobs.new_folder()
        try:
            upload = folder / "upload"
            size = _save_capped(song, upload, max_bytes)
            if size == 0:
                raise ApiError(400, "the uploaded file is empty")
            check_song(upload, folder, max_seconds, shown_name=_shown_name(song.filename))
            upload.unlink()
        except SongError as err:
            shutil.rmtree(folder, ignore_errors=True)
            raise ApiError(413 if isinstance(err, SongTooLongError) else 400, err) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        jobs.submit(job_id, folder, seed=0 if seed_value is None else seed_value, genre=genre_value)
        return {"job": job_id}

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str):
        status = jobs.status(job_id) if JOB_ID.fullmatch(job_id) else None
        if status is None:
            raise ApiError(404, "no such job (finished jobs are kept for a while, then removed)")
        if status["state"] == "done":
            status["files"] = {kind: f"/api/jobs/{job_id}/{name}" for kind, name in OUTPUTS.items()}
        return status

    @app.get("/api/jobs/{job_id}/{name}")
    def job_file(job_id: str, name: str, request: Request):
        job = jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None
        kind = DOWNLOADS.get(name)
        if job is None or kind is None or job.state != "done":
            raise ApiError(404, "no such file")
        download = "download" in request.query_params
        return FileResponse(job.outputs[kind], media_type=MEDIA_TYPES[kind],
                            filename=name if download else None)

    return app


def _shown_name(filename):
    """The client's file name as errors show it (printable, at most 60 characters; never a path
    on this server)."""
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return name[:60] or "the uploaded file"


def _save_capped(upload, path, max_bytes):
    """Stream ``upload`` to ``path``, refusing (413) past ``max_bytes``; returns the size."""
    size = 0
    with open(path, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, f"the upload is larger than the limit of {max_bytes / 2**20:.1f} MB")
            out.write(chunk)
    return size
