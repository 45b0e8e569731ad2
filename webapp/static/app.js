// The dance page: send the song to POST /api/dance, follow GET /api/jobs/ID, show the result.
"use strict";

const $ = (id) => document.getElementById(id);
let song = null;      // the chosen File
let polling = null;   // the timer following the current job

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function choose(file) {
  song = file || null;
  $("chosen").textContent = song ? `${song.name} (${(song.size / 1048576).toFixed(1)} MB)` : "";
  $("dance").disabled = !song;
  $("another").disabled = true;
  showError("");
}

async function info() {
  const limits = await (await fetch("/api/info")).json();
  $("limits").textContent = `WAV, MP3, OGG, FLAC, M4A, ... up to ${Math.round(limits.max_seconds / 60 * 10) / 10} ` +
    `minutes and ${limits.max_mb} MB`;
  $("seed").max = limits.max_seed;
  if (limits.genres > 0) {
    for (let g = 0; g < limits.genres; g++) {
      $("genre").add(new Option(`genre ${g}`, String(g)));
    }
    $("genre-choice").hidden = false;
  }
}

async function dance() {
  if (!song) return;
  clearInterval(polling);
  showError("");
  $("dance").disabled = $("another").disabled = true;
  $("result").hidden = true;
  $("progress-box").hidden = false;
  $("progress").value = 0;
  $("state").textContent = "uploading...";
  const form = new FormData();
  form.append("song", song);
  form.append("seed", $("seed").value);
  form.append("genre", $("genre").value);
  let reply;
  try {
    const response = await fetch("/api/dance", { method: "POST", body: form });
    reply = await response.json();
    if (!response.ok) throw new Error(reply.error || `the server answered ${response.status}`);
  } catch (err) {
    return fail(err.message);
  }
  polling = setInterval(() => follow(reply.job), 300);
}

function fail(message) {
  clearInterval(polling);
  $("progress-box").hidden = true;
  showError(message);
  $("dance").disabled = !song;
}

async function follow(job) {
  let status;
  try {
    const response = await fetch(`/api/jobs/${job}`);
    status = await response.json();
    if (!response.ok) throw new Error(status.error);
  } catch (err) {
    return fail(err.message);
  }
  $("progress").value = status.progress;
  if (status.state === "queued") {
    $("state").textContent = `waiting: ${status.position} in the queue`;
  } else if (status.state === "running") {
    $("state").textContent = `dancing: ${Math.round(status.progress * 100)} %`;
  } else if (status.state === "failed") {
    fail(status.error);
  } else if (status.state === "done") {
    clearInterval(polling);
    show(status.files);
  }
}

function show(files) {
  $("progress-box").hidden = true;
  $("video").src = files.video;
  $("plot").src = files.plot;
  $("get-video").href = `${files.video}?download`;
  $("get-poses").href = `${files.poses}?download`;
  $("get-zip").href = `${files.zip}?download`;
  $("get-plot").href = `${files.plot}?download`;
  $("result").hidden = false;
  $("dance").disabled = false;
  $("another").disabled = false;
  $("video").play().catch(() => {});  // browsers may refuse to start sound without a click
}

$("song").addEventListener("change", (event) => choose(event.target.files[0]));
$("drop").addEventListener("dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  choose(event.dataTransfer.files[0]);
});
$("dance").addEventListener("click", dance);
$("another").addEventListener("click", () => {
  $("seed").value = Math.floor(Math.random() * 1000000);
  dance();
});
info().catch((err) => showError(`cannot reach the server: ${err.message}`));
