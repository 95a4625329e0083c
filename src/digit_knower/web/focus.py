"""Bring what the person is waiting for into view: a tiny Streamlit component with no markup.

On a phone the answer lies below the canvas and Predict, off screen (its top edge at best), so
after each new answer the page scrolls it into view; after a saved label, it scrolls back up to
the clean canvas for the next drawing. Only when part of it is out of view: on a wide screen the
answer sits beside the canvas already, and the page keeps still. Each target is scrolled to once
(`token`), so later reruns (a label picked, the stats redrawn) leave the scroll alone.

The component's JavaScript runs in the page's own document (components v2 are no iframes), so it
can reach the answer, which Streamlit draws as ordinary markdown, and each element's container,
which Streamlit marks with the class `st-key-<key>`.
"""

from __future__ import annotations

import re

import streamlit as st

ANSWER = '[data-testid="dk-answer"]'

_JS = """
export default function (args) {
  const { selector, token, smooth, block } = args.data || {};
  window.dkScrolledTo = window.dkScrolledTo || {};
  if (!token || window.dkScrolledTo[selector] === token) return;
  window.dkScrolledTo[selector] = token;
  // The target is drawn in the same pass as this component: wait for the layout.
  requestAnimationFrame(() => setTimeout(() => {
    const target = document.querySelector(selector);
    if (!target) return;
    const box = target.getBoundingClientRect();
    if (box.top >= 0 && box.bottom <= window.innerHeight) return;
    target.scrollIntoView({ block, behavior: smooth ? "smooth" : "instant" });
  }, 50));
}
"""

_scroller = st.components.v2.component("digit_knower_bring_into_view", html="", js=_JS)


def bring_into_view(selector: str, token: str, *, smooth: bool = True, block: str = "start") -> None:
    """Scroll the element `selector` into view once for `token`, where it is not in view already;
    `block`: where it lands in the window ("start", "center"), as for `Element.scrollIntoView`."""
    _scroller(
        key="bring-into-view-" + re.sub(r"[^\w-]", "", selector),  # a key fit for a CSS class
        data={"selector": selector, "token": token, "smooth": smooth, "block": block},
    )


def key_selector(key: str) -> str:
    """The CSS selector of the container of the element with this Streamlit key."""
    return f".st-key-{key}"
