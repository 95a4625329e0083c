"""The drawing canvas: a small Streamlit component of our own, and the functions that read it.

Why our own: the drawing must be in Python *before* Predict acts on it. This component sends
the whole picture as a PNG data URL the moment the pen lifts (pointer-up), through the
component's state, so the Predict click that follows always carries the finished drawing.
Pointer events cover mouse, pen and touch alike; `touch-action: none` keeps a finger on the
canvas from scrolling the page. Stroke width, the eraser, Undo (also Ctrl+Z) and Clear live in
the browser: no round trip. The canvas always holds 280x280 pixels; on a narrow screen it is
shown smaller, and pointer positions are scaled back to canvas pixels.

The browser keeps the strokes, so Undo redraws all but the last. With "Read as I draw" on, the
canvas asks Python to read the drawing (a `read` trigger) once no stroke has begun for
LIVE_DELAY_MS after the last one ended: a person drawing a 4 in three strokes gets one reading,
not three. Python reads inside that script run, and Streamlit runs one script at a time per
session, so one reading at most is in flight for each visitor.

Streamlit calls the JavaScript function again whenever the data passed from Python changes,
with the same DOM, so the script wires the canvas once and only refreshes its arguments after.
After a label is saved the page moves on to a clean canvas: `start_afresh` gives the component
a new key, so the new canvas starts with no drawing in Python and none in the browser.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import streamlit as st

from digit_knower import InvalidImageError

KEY = "canvas"
"""Session-state key of the first canvas; its value is `{"image": "data:image/png;base64,..." | None}`.
Each clean canvas after a saved label gets a key of its own: `current_key()`."""
EPOCH = "canvas_epoch"
SIZE = 280
DEFAULT_STROKE = 18
LIVE_DELAY_MS = 300
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
    <div class="dk-buttons">
      <button type="button" class="dk-eraser" data-testid="dk-eraser" aria-pressed="false"
              title="Eraser: strokes paint black">Eraser</button>
      <button type="button" class="dk-undo" data-testid="dk-undo" title="Undo the last stroke (Ctrl+Z)"
              aria-keyshortcuts="Control+Z">Undo</button>
      <button type="button" class="dk-clear" data-testid="dk-clear">Clear</button>
    </div>
  </div>
</div>
"""

# Buttons are at least 44x44 px, the least touch target a finger hits reliably (WCAG 2.5.5).
_CSS = f"""
.dk-pad {{ display: flex; flex-direction: column; gap: 0.6rem; width: 100%; max-width: {SIZE}px; }}
.dk-canvas {{
  width: 100%; height: auto; aspect-ratio: 1; background: #000; border-radius: 0.6rem;
  border: 1px solid var(--st-border-color, #555); cursor: crosshair;
  touch-action: none; user-select: none; -webkit-user-select: none;
}}
.dk-canvas.dk-erasing {{ cursor: cell; }}
.dk-tools {{ display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem;
  font-family: var(--st-font, sans-serif); color: var(--st-text-color, inherit); font-size: 0.9rem; }}
.dk-width {{ display: flex; align-items: center; gap: 0.5rem; min-height: 44px; }}
.dk-width input {{ width: 100px; min-height: 44px; accent-color: var(--st-primary-color, #ff4b4b); }}
.dk-width output {{ min-width: 1.6em; text-align: right; font-variant-numeric: tabular-nums; }}
.dk-buttons {{ display: flex; gap: 0.4rem; }}
.dk-buttons button {{
  font: inherit; min-height: 44px; min-width: 44px; padding: 0 0.7rem; border-radius: 0.5rem; cursor: pointer;
  color: var(--st-text-color, inherit); background: var(--st-secondary-background-color, #262730);
  border: 1px solid var(--st-border-color, #555);
}}
.dk-buttons button:hover, .dk-buttons button[aria-pressed="true"] {{
  border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }}
"""

_JS = f"""
export default function (args) {{
  const root = args.parentElement;
  const canvas = root.querySelector("canvas");
  // Listeners always use the newest arguments Streamlit handed us.
  canvas.dkArgs = args;
  if (canvas.dkWired) return;
  canvas.dkWired = true;

  const ctx = canvas.getContext("2d");
  const slider = root.querySelector("input[type=range]");
  const shown = root.querySelector("output");
  const eraser = root.querySelector(".dk-eraser");
  let strokes = [];    // each: {{width, erase, points: [[x, y], ...]}}, oldest first
  let current = null;  // the stroke being drawn
  let base = null;     // a drawing Python still held when this canvas was mounted
  let pending = null;  // the timer of a live reading

  function blank() {{
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }}
  function segment(stroke, from, to) {{
    ctx.strokeStyle = stroke.erase ? "#000" : "#fff";
    ctx.lineWidth = stroke.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }}
  function paint(stroke) {{
    const p = stroke.points;
    segment(stroke, p[0], p[0]);  // a tap leaves a dot
    for (let i = 1; i < p.length; i++) segment(stroke, p[i - 1], p[i]);
  }}
  function redraw() {{
    blank();
    if (base) ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
    strokes.forEach(paint);
  }}
  function send(value) {{ canvas.dkArgs.setStateValue("image", value); }}
  function sendDrawing() {{
    send(strokes.length || base ? canvas.toDataURL("image/png") : null);
  }}
  function point(e) {{
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }}
  function cancelReading() {{ if (pending !== null) {{ clearTimeout(pending); pending = null; }} }}
  function readSoon() {{
    cancelReading();
    if (!(canvas.dkArgs.data && canvas.dkArgs.data.live)) return;
    pending = setTimeout(() => {{
      pending = null;
      canvas.dkArgs.setTriggerValue("read", true);
    }}, {LIVE_DELAY_MS});
  }}

  blank();
  // A remounted canvas (same session) shows the drawing Python still holds, so the two agree.
  const kept = args.data && args.data.image;
  if (kept) {{
    const img = new Image();
    img.onload = () => {{ base = img; redraw(); }};
    img.src = kept;
  }}

  canvas.addEventListener("pointerdown", (e) => {{
    e.preventDefault();
    cancelReading();
    canvas.setPointerCapture(e.pointerId);
    current = {{ width: Number(slider.value), erase: eraser.getAttribute("aria-pressed") === "true",
                points: [point(e)] }};
    paint(current);
  }});
  canvas.addEventListener("pointermove", (e) => {{
    if (current === null) return;
    // Coalesced events keep fast strokes smooth instead of a polygon of chords.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of (events.length ? events : [e])) {{
      const p = point(ev);
      segment(current, current.points[current.points.length - 1], p);
      current.points.push(p);
    }}
  }});
  function finish() {{
    if (current === null) return;
    strokes.push(current);
    current = null;
    sendDrawing();
    readSoon();
  }}
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("lostpointercapture", finish);

  function undo() {{
    if (!strokes.length) return;
    strokes.pop();
    redraw();
    sendDrawing();
    readSoon();
  }}
  slider.addEventListener("input", () => {{ shown.textContent = slider.value; }});
  eraser.addEventListener("click", () => {{
    const on = eraser.getAttribute("aria-pressed") !== "true";
    eraser.setAttribute("aria-pressed", String(on));
    canvas.classList.toggle("dk-erasing", on);
  }});
  root.querySelector(".dk-undo").addEventListener("click", undo);
  root.querySelector(".dk-clear").addEventListener("click", () => {{
    cancelReading();
    strokes = [];
    base = null;
    blank();
    send(null);
  }});
  // Ctrl+Z (Cmd+Z on a Mac) anywhere on the page but in a text field undoes the newest canvas's
  // last stroke: after a saved label the page shows a new canvas, and the old one is gone.
  window.dkUndo = undo;
  if (!window.dkUndoKeyWired) {{
    window.dkUndoKeyWired = true;
    document.addEventListener("keydown", (e) => {{
      if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.key.toLowerCase() !== "z") return;
      if (e.target.closest && e.target.closest("input, textarea, [contenteditable=true]")) return;
      e.preventDefault();
      window.dkUndo();
    }});
  }}
}}
"""

_canvas_component = st.components.v2.component("digit_knower_canvas", html=_HTML, css=_CSS, js=_JS)


@dataclass(frozen=True)
class Canvas:
    """What the canvas holds this run: the drawing as PNG bytes (None: nothing drawn), and whether
    it asks to be read now (Read as I draw)."""

    drawing: bytes | None
    read_now: bool


def _ignore() -> None:
    """The callback Streamlit requires for each state and trigger; the rerun it causes is all we need."""


def current_key() -> str:
    """The key of the canvas shown now: KEY, then a new one for each clean canvas (`start_afresh`)."""
    epoch = int(st.session_state.get(EPOCH, 0))
    return KEY if epoch == 0 else f"{KEY}-{epoch}"


def start_afresh() -> None:
    """Show a clean canvas from the next run on: a new key, so no drawing in Python or the browser."""
    st.session_state[EPOCH] = int(st.session_state.get(EPOCH, 0)) + 1


def draw_digit(*, live: bool = False) -> Canvas:
    """Show the canvas; `live`: ask for a reading after each pause in the drawing."""
    key = current_key()
    held = st.session_state.get(key) or {}
    result = _canvas_component(
        key=key,
        data={"image": held.get("image"), "live": live},
        default={"image": None},
        on_image_change=_ignore,
        on_read_change=_ignore,
    )
    return Canvas(png_from_data_url(result.get("image")), read_now=bool(result.get("read")))


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
