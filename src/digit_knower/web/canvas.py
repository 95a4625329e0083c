"""The drawing canvas: a small Streamlit component of our own, and the one function that reads it.

Why our own: the drawing must be in Python *before* Predict acts on it. This component sends
the whole picture as a PNG data URL the moment the pen lifts (pointer-up), through the
component's state, so the Predict click that follows always carries the finished drawing.
Pointer events cover mouse, pen and touch alike; `touch-action: none` keeps a finger on the
canvas from scrolling the page. Stroke width and Clear live in the browser: no round trip.
The canvas always holds 280x280 pixels; on a narrow screen it is shown smaller, and pointer
positions are scaled back to canvas pixels.

Streamlit calls the JavaScript function again whenever the data passed from Python changes,
with the same DOM, so the script wires the canvas once and only refreshes its arguments after.
"""

from __future__ import annotations

import base64
import binascii

import streamlit as st

from digit_knower import InvalidImageError

KEY = "canvas"
"""Session-state key of the canvas; its value is `{"image": "data:image/png;base64,..." | None}`."""

SIZE = 280
DEFAULT_STROKE = 18
_PNG_DATA_URL_PREFIX = "data:image/png;base64,"

_HTML = f"""
<div class="dk-pad">
  <canvas class="dk-canvas" width="{SIZE}" height="{SIZE}" role="img"
          aria-label="Drawing area: draw one digit, 0 to 9" data-testid="dk-canvas"></canvas>
  <div class="dk-tools">
    <label class="dk-width">Stroke
      <input type="range" min="6" max="40" step="1" value="{DEFAULT_STROKE}"
             aria-label="Stroke width" data-testid="dk-stroke">
      <output>{DEFAULT_STROKE}</output>
    </label>
    <button type="button" class="dk-clear" data-testid="dk-clear">Clear</button>
  </div>
</div>
"""

_CSS = f"""
.dk-pad {{ display: flex; flex-direction: column; gap: 0.6rem; width: 100%; max-width: {SIZE}px; }}
.dk-canvas {{
  width: 100%; height: auto; aspect-ratio: 1; background: #000; border-radius: 0.6rem;
  border: 1px solid var(--st-border-color, #555); cursor: crosshair;
  touch-action: none; user-select: none; -webkit-user-select: none;
}}
.dk-tools {{ display: flex; align-items: center; justify-content: space-between; gap: 0.8rem;
  font-family: var(--st-font, sans-serif); color: var(--st-text-color, inherit); font-size: 0.9rem; }}
.dk-width {{ display: flex; align-items: center; gap: 0.5rem; }}
.dk-width input {{ width: 100px; accent-color: var(--st-primary-color, #ff4b4b); }}
.dk-width output {{ min-width: 1.6em; text-align: right; font-variant-numeric: tabular-nums; }}
.dk-clear {{
  font: inherit; padding: 0.3rem 1rem; border-radius: 0.5rem; cursor: pointer;
  color: var(--st-text-color, inherit); background: var(--st-secondary-background-color, #262730);
  border: 1px solid var(--st-border-color, #555);
}}
.dk-clear:hover {{ border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }}
"""

_JS = """
export default function (args) {
  const root = args.parentElement;
  const canvas = root.querySelector("canvas");
  // Listeners always use the newest arguments Streamlit handed us.
  canvas.dkArgs = args;
  if (canvas.dkWired) return;
  canvas.dkWired = true;

  const ctx = canvas.getContext("2d");
  const slider = root.querySelector("input[type=range]");
  const shown = root.querySelector("output");
  let last = null;

  function blank() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  function send(value) { canvas.dkArgs.setStateValue("image", value); }
  function point(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }
  function lineTo(p) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = Number(slider.value);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    last = p;
  }

  blank();
  // A remounted canvas (same session) shows the drawing Python still holds, so the two agree.
  const kept = args.data && args.data.image;
  if (kept) {
    const img = new Image();
    img.onload = () => ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    img.src = kept;
  }

  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
    lineTo(last);  // a tap leaves a dot
  });
  canvas.addEventListener("pointermove", (e) => {
    if (last === null) return;
    // Coalesced events keep fast strokes smooth instead of a polygon of chords.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of (events.length ? events : [e])) lineTo(point(ev));
  });
  function finish() {
    if (last === null) return;
    last = null;
    send(canvas.toDataURL("image/png"));
  }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("lostpointercapture", finish);

  slider.addEventListener("input", () => { shown.textContent = slider.value; });
  root.querySelector(".dk-clear").addEventListener("click", () => { blank(); send(null); });
}
"""

_canvas_component = st.components.v2.component("digit_knower_canvas", html=_HTML, css=_CSS, js=_JS)


def _ignore() -> None:
    """The state callback Streamlit requires; the rerun it causes is all we need."""


def draw_digit(key: str = KEY) -> bytes | None:
    """Show the canvas; return the current drawing as PNG bytes, or None if nothing was drawn yet."""
    held = st.session_state.get(key) or {}
    result = _canvas_component(
        key=key,
        data={"image": held.get("image")},
        default={"image": None},
        on_image_change=_ignore,
    )
    return png_from_data_url(result.get("image"))


def png_from_data_url(value: str | None) -> bytes | None:
    """The PNG bytes inside a `data:image/png;base64,...` URL (None stays None)."""
    if not value:
        return None
    if not value.startswith(_PNG_DATA_URL_PREFIX):
        raise InvalidImageError("The drawing did not arrive as a PNG. Press Clear and draw again.")
    try:
        return base64.b64decode(value[len(_PNG_DATA_URL_PREFIX) :], validate=True)
    except binascii.Error as error:
        raise InvalidImageError("The drawing arrived damaged. Press Clear and draw again.") from error


def png_data_url(png: bytes) -> str:
    """The reverse of `png_from_data_url`: what the browser sends for a drawing."""
    return _PNG_DATA_URL_PREFIX + base64.b64encode(png).decode("ascii")
