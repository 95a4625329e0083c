"""Say in words, on the page, why the uploader refused a file: a tiny Streamlit component.

Streamlit's uploader refuses a file over `server.maxUploadSize`, or of a type it was not told to
take, in the browser: Python never sees the file, and the uploader shows only a red chip, with
the reason on hover. This component watches the uploader's chips and, for a refused one, writes
the reason under it in the page's own words, with the limit; it goes once the chip is removed.

Its JavaScript runs in the page's own document (components v2 are no iframes), so it can read the
uploader's chips: each names its file and size in its aria-label ("big.png, 11.5MB") and carries
aria-invalid="true" when refused.
"""

from __future__ import annotations

import streamlit as st

_HTML = '<p class="dk-refused" role="alert" data-testid="dk-refused" hidden></p>'
_CSS = """
.dk-refused { margin: 0; padding: 0.6rem 0.8rem; border-radius: 0.5rem;
  font-family: var(--st-font, sans-serif); color: var(--st-text-color, inherit);
  background: rgba(255, 75, 75, 0.16); border-left: 4px solid #e5484d; }
"""

_JS = """
export default function (args) {
  const note = args.parentElement.querySelector(".dk-refused");
  note.dkArgs = args;
  if (note.dkWired) return;
  note.dkWired = true;

  function words(chip) {
    const { limit_mb, formats } = note.dkArgs.data;
    const [name, size] = (chip.getAttribute("aria-label") || "").split(/, (?=[\\d.]+\\s*[KMG]?B$)/);
    const match = /([\\d.]+)\\s*([KMG]?)B$/.exec(size || "");
    // In the chip's own units, so the figure is the one the person sees there (decimal: 1 MB = 10^6 bytes).
    const mb = match ? Number(match[1]) * { "": 1e-6, K: 1e-3, M: 1, G: 1e3 }[match[2]] : null;
    if (mb !== null && mb > limit_mb) {
      return `The file is ${mb.toFixed(1)} MB: the page takes pictures up to ${limit_mb} MB. ` +
        "Send a smaller one.";
    }
    return `${name} is not a picture the page reads: send a ${formats} picture.`;
  }
  function check() {
    const chip = document.querySelector(
      `.st-key-${note.dkArgs.data.uploader} [data-testid="stFileChip"][aria-invalid="true"]`
    );
    const text = chip ? words(chip) : "";
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !chip;
  }
  new MutationObserver(check).observe(document.body, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["aria-invalid", "aria-label"],
  });
  check();
}
"""

_component = st.components.v2.component("digit_knower_refused_upload", html=_HTML, css=_CSS, js=_JS)


def explain_refused_files(uploader_key: str, limit_mb: int, formats: str) -> None:
    """Under the uploader keyed `uploader_key`: the reason it refused a file, in words."""
    _component(
        key=f"refused-{uploader_key}",
        data={"uploader": uploader_key, "limit_mb": limit_mb, "formats": formats},
    )
