"""The dance page: a FastAPI server (``server``) over a one-worker job queue (``jobs``) whose
work is dancing, rendering and plotting a song (``dancer``); ``static/`` holds the page."""
